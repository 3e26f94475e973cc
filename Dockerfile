# The web, worker, beat and Flower image. Each service runs one of the Makefile's targets; none
# loads the demo data (`make seed` does, on request). SECRET_KEY comes from the environment at
# run time: the app refuses to start without it while DEBUG is off.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BIN=/usr/local/bin PY=/usr/local/bin/python
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings, not the real key.
RUN SECRET_KEY=build python manage.py collectstatic --noinput -v 0
EXPOSE 8000 5555
CMD ["make", "serve", "HOST=0.0.0.0"]
