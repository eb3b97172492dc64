"""The interactive labeller: paint one sample in the browser, train, refine.

`session.Session` holds the painted examples (`examples`), trains the
configured method's head on them and predicts new samples in one worker
thread (`worker`) and saves the labels and the head (`saving`);
`server.make_app` serves it to the page in `static/` (`stylegan-seg label
serve`), answering the requests it refuses (`refusals`) with 4xx errors.
"""
