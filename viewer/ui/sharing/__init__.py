"""What leaves the viewer: export, send, de-identify, write media."""
