"""`platestream bench`: speed of the recognition core (`core`) and of the whole streaming service (`service`).

Also home of the helpers both the benchmark and the service tests use to build real inputs: a test video made
from real frames (media.py), a real RTSP server per camera (rtsp_server.py), subprocesses and fresh Postgres
databases (procs.py).
"""
