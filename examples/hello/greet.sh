#!/bin/sh
echo "$GREETING $*"
