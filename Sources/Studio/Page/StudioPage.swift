import Foundation

/// The studio page: plain HTML, CSS and JavaScript written for clipig, served by the studio
/// itself (no CDN, works offline).
enum StudioPage {
  /// The HTML with the access token written into the asset URLs.
  static func html(token: String) -> String {
    template.replacingOccurrences(of: "@TOKEN@", with: token)
  }

  /// The page; `@TOKEN@` stands for the token.
  static let template = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>clipig studio</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/studio.css?token=@TOKEN@">
    </head>
    <body data-token="@TOKEN@" data-status="" data-epoch="" data-snapshots="0">
    <header>
      <h1>clipig studio</h1>
      <nav id="tabs"></nav>
      <button id="new-tab" title="New experiment">+</button>
      <span id="connection">connecting…</span>
    </header>
    <main>
      <section id="left">
        <div id="editor"><pre id="gutter"></pre><textarea id="yaml" spellcheck="false"
          autocomplete="off" aria-label="YAML"></textarea></div>
        <div id="error-line"></div>
        <div id="buttons">
          <button id="start">Start</button>
          <button id="update">Update</button>
          <button id="stop">Stop</button>
          <button id="save">Save</button>
        </div>
        <pre id="log"></pre>
      </section>
      <section id="right">
        <div id="stats">
          <span>status <b id="status">idle</b></span>
          <progress id="progress" max="1" value="0"></progress>
          <span>epoch <b id="epoch">–</b></span>
          <span><b id="rate">–</b> epochs/s</span>
          <span>CLIP fwd+bwd <b id="split">–</b></span>
          <span>loss <b id="loss">–</b></span>
          <span id="similarities"></span>
          <span>size <b id="size">–</b></span>
          <span>seed <b id="seed">–</b></span>
        </div>
        <div id="view-controls">
          <label>zoom <input id="zoom" type="range" min="1" max="500" value="100"></label>
          <input id="zoom-number" type="number" min="1" max="500" value="100"> %
          <button id="zoom-100">100 %</button>
          <label>repeat <input id="repeat" type="number" min="1" max="10" value="1"></label>
          <button id="show-views">Views CLIP sees</button>
        </div>
        <div id="viewport"><div id="tiles"><img id="live" alt=""></div></div>
        <div id="plots">
          <canvas id="plot-loss" width="400" height="130"></canvas>
          <canvas id="plot-similarity" width="400" height="130"></canvas>
        </div>
        <div id="parameters-box"><table id="parameters"><thead><tr><th>parameter</th>
          <th>expression</th><th>now</th></tr></thead><tbody></tbody></table></div>
        <div id="views"></div>
      </section>
    </main>
    <script src="/studio.js?token=@TOKEN@"></script>
    </body>
    </html>
    """#
}
