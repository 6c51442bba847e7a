# The playground as a Hugging Face Docker Space (or any container host): port 7860, uid 1000.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 \
    GRADIO_SERVER_PORT=7860

RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app

# The CPU build of torch: the index below serves torch==2.13.0+cpu, which satisfies the pin
# and is a few hundred MB instead of several GB of CUDA libraries.
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY --chown=user app ./app
COPY --chown=user core ./core
COPY --chown=user demos ./demos
COPY --chown=user assets ./assets
USER user
EXPOSE 7860
CMD ["python", "-m", "app"]
