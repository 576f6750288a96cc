extension StudioPage {
  /// The style sheet.
  static let style = #"""
    * { box-sizing: border-box; }
    body { margin: 0; font: 13px/1.4 system-ui, sans-serif; background: #1e1f22; color: #ddd; }
    header { display: flex; align-items: center; gap: 8px; padding: 6px 10px; background: #2b2d31; }
    header h1 { font-size: 15px; margin: 0 12px 0 0; color: #fff; }
    nav#tabs { display: flex; gap: 2px; flex-wrap: wrap; }
    nav#tabs button { background: #383a40; color: #ccc; border: 0; padding: 5px 10px; border-radius: 4px 4px 0 0; cursor: pointer; }
    nav#tabs button.current { background: #4e5058; color: #fff; }
    nav#tabs .badge { margin-left: 6px; font-size: 11px; color: #9ab; }
    #connection { margin-left: auto; font-size: 12px; color: #8a8; }
    #connection.down { color: #e88; }
    main { display: grid; grid-template-columns: minmax(340px, 40%) 1fr; gap: 10px; padding: 10px; height: calc(100vh - 40px); }
    section { display: flex; flex-direction: column; gap: 6px; min-height: 0; min-width: 0; }
    #editor { display: flex; flex: 1 1 auto; min-height: 200px; border: 1px solid #444; background: #141517; overflow: hidden; }
    #gutter { margin: 0; padding: 6px 6px 6px 4px; min-width: 3.5em; text-align: right; color: #666; background: #1a1b1e; overflow: hidden; font: 12px/18px ui-monospace, monospace; user-select: none; white-space: pre; }
    #gutter span.error { color: #fff; background: #a33; display: inline-block; width: 100%; }
    #yaml { flex: 1; margin: 0; padding: 6px; border: 0; resize: none; outline: none; background: transparent; color: #e6e6e6; font: 12px/18px ui-monospace, monospace; white-space: pre; overflow: auto; tab-size: 2; }
    #error-line { min-height: 1.4em; color: #f77; font-family: ui-monospace, monospace; white-space: pre-wrap; }
    #error-line.ok { color: #7c7; }
    #buttons { display: flex; gap: 6px; }
    #buttons button, #view-controls button { background: #3d5a80; color: #fff; border: 0; border-radius: 4px; padding: 6px 14px; cursor: pointer; }
    #buttons button:disabled { background: #444; color: #888; cursor: default; }
    #log { margin: 0; height: 120px; overflow: auto; background: #141517; border: 1px solid #333; padding: 4px; font: 11px/15px ui-monospace, monospace; color: #aaa; white-space: pre-wrap; }
    #stats { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; background: #2b2d31; padding: 5px 8px; border-radius: 4px; }
    #stats progress { width: 160px; }
    #stats b { color: #fff; font-weight: 600; }
    #view-controls { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
    #view-controls input[type=number] { width: 4.5em; }
    #viewport { display: flex; flex: 1 1 auto; min-height: 160px; overflow: auto; background: #111 repeating-conic-gradient(#181818 0 25%, #111 0 50%) 0 0 / 16px 16px; border: 1px solid #333; }
    #tiles { margin: auto; background-repeat: repeat; }
    #tiles.pixelated, #live.pixelated { image-rendering: pixelated; }
    #plots { display: flex; gap: 6px; }
    #plots canvas { flex: 1; width: 50%; height: 130px; background: #141517; border: 1px solid #333; }
    #parameters { border-collapse: collapse; font: 11px ui-monospace, monospace; }
    #parameters td, #parameters th { border-bottom: 1px solid #333; padding: 1px 8px; text-align: left; }
    #parameters-box { max-height: 130px; overflow: auto; }
    #views { display: flex; flex-wrap: wrap; gap: 4px; }
    #views img { width: 96px; height: 96px; image-rendering: pixelated; border: 1px solid #333; }
    #views img.mask { border: 1px dashed #c90; }
    """#
}
