"""Workers: consume frames from the queue, batch them, run the pipeline, store and publish reads."""
