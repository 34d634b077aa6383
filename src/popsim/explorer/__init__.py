"""The interactive explorer: the township live in JupyterLab and the browser (Mesa SolaraViz).

Controls come from the scenario schema (:mod:`levers`), their state is a :class:`Settings`
that loads, compares and saves like any scenario file (:mod:`settings`, :mod:`compare`),
and the model it steps is the ordinary :class:`~popsim.model.township.PopsimModel` with
the villages laid out in a Mesa space (:mod:`model`). Only :mod:`page` imports solara, and
only :mod:`figures` draws, so everything else runs and is tested without a browser.
"""
