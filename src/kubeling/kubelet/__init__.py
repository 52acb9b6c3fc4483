"""The node agent: pod workers, runtime, images, networking, volumes."""
