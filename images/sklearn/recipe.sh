# The scikit-learn framework image: what the SageMaker scikit-learn processing images provide
# (python3, pandas, scikit-learn, boto3), from Debian 12 packages. The image catalog maps the
# SageMaker scikit-learn image URIs to it once imported (runtime/image_catalog.cc).
IMAGE_NAME=kiln/sagemaker-scikit-learn:latest
PACKAGES=python3,python3-pandas,python3-sklearn,python3-boto3,ca-certificates
IMAGE_CMD=(python3)
IMAGE_ENV=(PATH=/usr/local/bin:/usr/bin:/bin PYTHONUNBUFFERED=1 LANG=C.UTF-8)
IMAGE_WORKDIR=/
