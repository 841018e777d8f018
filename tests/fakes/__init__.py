"""Local fake provider servers (real HTTP/2 over TLS on 127.0.0.1) and their helpers."""
