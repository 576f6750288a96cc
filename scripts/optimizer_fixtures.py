"""Reference values for clipig's optimizers from PyTorch's torch.optim (spec §8.4).

Run with the oracle venv (never in CI):
    $(../shared/tools/torch-oracle.sh) scripts/optimizer_fixtures.py
Writes Tests/RunnerTests/Fixtures/optimizers.json: for each optimizer as CLIPig builds it, the
parameters after each of three steps with fixed gradients and learning rate.
"""
import json
import pathlib

import torch

torch.manual_seed(0)
p0 = [0.5, -0.25, 1.5, 0.0, 0.75]
grads = [
    [0.1, -0.2, 0.3, 0.0, 1.5],
    [-0.05, 0.4, 0.3, 0.2, -1.0],
    [0.02, 0.01, -0.7, 0.2, 0.5],
]
lr = 0.037

builders = {
    "adam": lambda ps: torch.optim.Adam(ps, lr=lr, betas=(0.9, 0.999), eps=1e-8),
    "sgd": lambda ps: torch.optim.SGD(ps, lr=lr),
    "adadelta": lambda ps: torch.optim.Adadelta(ps, lr=lr, rho=0.9, eps=1e-6),
    "rmsprob": lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=0.99, eps=1e-8, centered=True, momentum=0.1),
    "sparse_adam": lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=0.99, eps=1e-8),
}

out = {"initial": p0, "gradients": grads, "lr": lr, "steps": {}}
for name, build in builders.items():
    p = torch.tensor(p0, dtype=torch.float32, requires_grad=True)
    opt = build([p])
    steps = []
    for g in grads:
        opt.zero_grad()
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        steps.append([float(v) for v in p.detach()])
    out["steps"][name] = steps

path = pathlib.Path(__file__).resolve().parent.parent / "Tests/RunnerTests/Fixtures/optimizers.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path} (torch {torch.__version__})")
