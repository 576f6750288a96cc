import ClipigCLI

// The stock `clipig`: the command line with clipig's built-in stages only. A plugin's
// executable is the same line with its plugin (`clipig plugin new` writes one).
await ClipigMain.main(plugins: [])
