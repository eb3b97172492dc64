// The page's state, shared by its modules (and shown to tests and the
// benchmark as window.labeller.state).

export const $ = (id) => document.getElementById(id);

export const MAX_UNDO = 100;

export const st = {
  session: null,      // the last /api/session answer
  res: 0,             // label map side R
  labels: null,       // Uint8Array R*R: class ids of the shown example
  image: null,        // the shown example's sample (HTMLImageElement)
  example: 0,         // index of the shown example
  cls: 1,             // the painting class
  tool: 'brush',
  size: 4,
  opacity: 0.6,
  zoom: 1,
  undo: [],
  redo: [],
  polygon: [],        // vertices [x, y] in label pixels (polygon/lasso)
  painting: false,
  last: null,         // last brush pixel of a stroke
  hover: null,
  saveChain: Promise.resolve(),
  saveTimer: null,
  dirty: false,
  polling: false,
  gridVersion: -1,
  gridCells: null,    // the grid's {seed, k, img, mask}
  gridUncertainty: null,  // the grid's uncertainty per sample
  trainClick: null,   // performance.now() of the last Train click
  overlay: null,      // offscreen canvas R x R with the class colours
};
