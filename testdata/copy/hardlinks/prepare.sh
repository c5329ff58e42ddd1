ln tree/a tree/b
mkdir -p tree/sub && ln tree/a tree/sub/c
