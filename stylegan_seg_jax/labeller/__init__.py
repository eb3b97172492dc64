"""The interactive labeller: paint one sample in the browser, train, refine.

`session.Session` holds the painted examples, trains the configured
method's head on them and predicts new samples; `server.make_app` serves it
to the page in `static/` (`stylegan-seg label serve`).
"""
