"""Gateway: FastAPI app for cameras, image posts, search, the live feed and metrics."""
