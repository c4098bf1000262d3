# The image of the two-host cluster example (examples/two-host-cluster): python3 and boto3 from
# Debian, and the example's program at /opt/program/submit. No ENTRYPOINT: jobs name the command
# (ContainerEntrypoint ["/opt/program/submit"]), as the SageMaker SDK's Processor(entrypoint=…) and
# ScriptProcessor(command=…) do; CMD runs the program, which then asks for its arguments.
IMAGE_NAME=kiln/two-host-cluster:latest
PACKAGES=python3,python3-boto3,ca-certificates,netbase
IMAGE_FILES=(examples/two-host-cluster/program:/opt/program)
IMAGE_CMD=(/opt/program/submit)
IMAGE_ENV=(PATH=/opt/program:/usr/local/bin:/usr/bin:/bin PYTHONUNBUFFERED=1 LANG=C.UTF-8)
IMAGE_WORKDIR=/opt/program
