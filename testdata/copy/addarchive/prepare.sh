mkdir -p src/dir/sub && printf 'one\n' > src/dir/a.txt && printf 'two\n' > src/dir/sub/b.txt
chmod 0750 src/dir/sub && chmod 0640 src/dir/a.txt && ln -s a.txt src/dir/link
tar -C src -cf plain.tar dir && tar -C src -czf gz.tgz dir && tar -C src -cJf xz.tar.xz dir
rm -rf src
