# The web app (gunicorn), the beat scheduler and the MLflow tracking server share this image.
# CPU-only torch: the web process never runs a model (probes and edits are tasks on the gpu queue).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY requirements.txt .
# PyICU (the look-alike keys, apps/core/keys.py) builds against the system's ICU: the compiler and headers are
# removed again, the ICU library stays.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libicu72 libicu-dev pkg-config g++ \
 && pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install -r requirements.txt \
 && apt-get purge -y libicu-dev pkg-config g++ && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

COPY manage.py ./
COPY amend ./amend
COPY apps ./apps
COPY editor ./editor
COPY mlops ./mlops
COPY workers ./workers
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static

RUN useradd --create-home --uid 10001 amend && mkdir -p /app/var && chown -R amend /app/var
USER amend
# collectstatic needs no database and no secret key (debug mode, for this build step only).
RUN AMEND_DEBUG=1 python manage.py collectstatic --noinput -v 0

EXPOSE 8000
CMD ["gunicorn", "amend.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
