"""Run the whole service on one machine: an HTTP server in front of the real handlers, and moto."""
