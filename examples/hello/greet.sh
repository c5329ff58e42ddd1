#!/bin/busybox sh
echo "$GREETING $*"
