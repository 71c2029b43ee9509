"""ASGI entry point for uvicorn: `service.asgi:app`, configured from the environment."""

from service.app import create_app

app = create_app()
