# A Python data image for the multi-instance cluster example: python3 with pandas, numpy and
# boto3, and the networking tools the example uses to check that algo-N resolve.
IMAGE_NAME=kiln/python-data:latest
PACKAGES=python3,python3-pandas,python3-numpy,python3-boto3,ca-certificates,iputils-ping,netbase
IMAGE_CMD=(python3)
IMAGE_ENV=(PATH=/usr/local/bin:/usr/bin:/bin PYTHONUNBUFFERED=1 LANG=C.UTF-8)
IMAGE_WORKDIR=/opt/ml/processing
