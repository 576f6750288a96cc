"""The `open_clip_config.json` files of OpenAI's models as open_clip writes them for the Hugging
Face hub (`timm/*.openai`): `model_cfg` is open_clip's `<name>-quickgelu` configuration (OpenAI's
models use QuickGELU), `preprocess_cfg` OpenAI's mean and std, the structure of open_clip's
`save_config_for_hf`. No real hub file can be fetched here; these are the closest independent
stand-in, and prove that clipig's strict reader accepts every key open_clip writes for them.

Run with the oracle venv (never in CI), from the repository root:
    /tmp/clipig-oracle/bin/python scripts/open_clip_hub_configs.py
Writes Tests/ModelStoreTests/Fixtures/openclip/hub-configs/<model>.json. Pinned: open_clip_torch 3.3.0.
"""
import json
import pathlib

import open_clip
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

assert open_clip.__version__ == "3.3.0", open_clip.__version__
OUT = pathlib.Path("Tests/ModelStoreTests/Fixtures/openclip/hub-configs")
OUT.mkdir(parents=True, exist_ok=True)

MODELS = ["ViT-B-32", "ViT-B-16", "ViT-L-14", "ViT-L-14-336",
          "RN50", "RN101", "RN50x4", "RN50x16", "RN50x64"]

for name in MODELS:
    model_cfg = open_clip.get_model_config(name + "-quickgelu")
    assert model_cfg is not None, name
    hf_config = {
        "model_cfg": model_cfg,
        "preprocess_cfg": {"mean": list(OPENAI_DATASET_MEAN), "std": list(OPENAI_DATASET_STD)},
    }
    (OUT / f"{name}.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    print(name)
