# The portal's web and worker image. Debian 12 like the reference machine.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends gdal-bin libgdal-dev postgresql-client \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The project's bytecode, every top-level package (./portal setup does the same).
RUN python -m compileall -q $(dirname */__init__.py)
ENV DJANGO_SETTINGS_MODULE=gisportal.settings.dev PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py load_demo && python -m gisportal.serving --bind 0.0.0.0:8000 --workers 2"]
