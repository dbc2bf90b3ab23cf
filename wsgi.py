"""WSGI entry point: `gunicorn wsgi:app` (production) or `flask --app wsgi run`."""

from merchant_alliance import create_app

app = create_app()
