"""The ``kiosk`` command: ``parser`` (arguments only), ``turns`` (translate, say, demo, listen,
run, screenshot), ``provisioning`` (``kiosk models ...``), ``staff`` (``kiosk staff set-pin``),
``doctor``, ``measuring`` (bench, soak) and ``output`` (JSON and language codes).

The top layer: it may import every other folder.
"""
