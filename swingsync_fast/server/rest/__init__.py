"""The REST endpoints: sessions, history, progress, batch analysis, OpenAPI, metrics, the web app."""
