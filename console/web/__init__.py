"""What the desk serves over HTTP: the acknowledge-link server the poller runs (ack_server.py, with its
rate limiter) and `support-console serve`, the console in a browser (serve.py)."""
