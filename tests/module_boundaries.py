#!/usr/bin/env python3
"""ctest module_boundaries: the module map's arrows hold at compile time.

For a few modules, compiles a one-line source with exactly the include flags CMake gives
that module's own sources (read from compile_commands.json) and checks that the headers of
modules it may use are found, and those of modules it must not use, or another module's
internal headers, are not. Usage: module_boundaries.py BUILD_DIR
"""
import json
import shlex
import subprocess
import sys

# module: (headers it may include, headers it must not reach)
CASES = {
    'cli': (['build/build.h', 'registry/pull.h', 'content/image_store.h', 'base/error.h'],
            ['frontend/parser.h', 'solver/solve.h', 'exporter/targets.h',
             'snapshotter/snapshotter.h', 'sandbox/executor.h', 'build/base_images.h']),
    'frontend': (['base/error.h'], ['content/digest.h', 'solver/solve.h']),
    'sandbox': (['base/process.h'], ['content/digest.h', 'solver/solve.h']),
    'content': (['base/error.h'], ['registry/client.h', 'snapshotter/snapshotter.h']),
    'solver': (['frontend/build_plan.h', 'sandbox/executor.h'],
               ['exporter/targets.h', 'registry/client.h']),
    'remote_cache': (['solver/cache_store.h', 'registry/push.h', 'exporter/layer_cache.h'],
                     ['build/build.h', 'build/base_images.h']),
}


def main():
    build_dir = sys.argv[1]
    commands = json.load(open(f'{build_dir}/compile_commands.json'))
    failures = []
    for module, (allowed, refused) in CASES.items():
        marker = f'{module}/CMakeFiles/kiln_{module}.dir/'
        entry = next(c for c in commands if marker in c.get('output', c['command']))
        argv = shlex.split(entry['command'])
        flags = [a for a in argv if a.startswith(('-I', '-std='))]
        for header, want in [(h, True) for h in allowed] + [(h, False) for h in refused]:
            r = subprocess.run([argv[0] if argv[0] != 'ccache' else argv[1], '-fsyntax-only',
                                '-x', 'c++', '-'] + flags,
                               input=f'#include "{header}"\n', text=True, capture_output=True,
                               cwd=entry['directory'])
            found = r.returncode == 0
            if found != want:
                failures.append(f'{module}: #include "{header}" '
                                f'{"fails" if want else "compiles"}: want the opposite'
                                + (f'\n{r.stderr.strip()}' if want else ''))
    for f in failures:
        print(f)
    print(f'{len(failures)} boundary failure(s)')
    return 1 if failures else 0


sys.exit(main())
