"""The development stack: the real Postgres, Temporal and S3 servers (shipped as wheels) plus a mail capture.

`make run` (`python -m devstack run`) starts them under `.data/` with the usual ports and runs the worker and
the API against them; the tests start the same `EmbeddedStack` on free ports in a temporary directory.
"""
