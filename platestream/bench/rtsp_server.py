"""A real RTSP server (tests, `platestream bench service`): gst-rtsp-server serving an H.264 MP4, not re-encoded.

Run by the system python3 (Debian's python3-gi and gir1.2-gst-rtsp-server-1.0):
    /usr/bin/python3 platestream/bench/rtsp_server.py PORT /mount video.mp4
Each client gets its own playback from the start (not shared), paced in real time like a camera.
Prints "ready" once it listens. Not imported by platestream: the venv has no GStreamer bindings.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, mount, path = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        sys.exit("could not listen on port " + port)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
