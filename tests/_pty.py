"""Test helper: runs a command in a pseudo-terminal and types into it.

usage: python3 _pty.py '<json steps>' command [args...]

Each step is {"send": "...", "expect": "regex"}: the keys are sent, then the
output since they were sent must match the regex within 15 s. The whole
transcript is printed at the end; the exit code is 0, or 3 when a step timed
out (the transcript says which), or 4 when the command did not exit within
15 s of the last step.
"""
import json, os, pty, re, select, sys, time

steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])

out = b""

def read_until(pattern, since, seconds=15.0):
    global out
    end = time.time() + seconds
    while time.time() < end:
        if pattern is not None and re.search(pattern, out[since:].decode(errors="replace")):
            return True
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                return pattern is None
            out += chunk
    return False

code = 0
for i, step in enumerate(steps):
    since = len(out)
    if step.get("send"):
        os.write(fd, step["send"].encode())
    if step.get("expect") is not None and not read_until(step["expect"], since):
        sys.stdout.write(f"step {i} timed out waiting for {step['expect']!r}\n")
        code = 3
        break
if code == 0 and not read_until(None, len(out)):
    code = 4
if code != 0:
    os.kill(pid, 9)
os.waitpid(pid, 0)
sys.stdout.write("--- transcript:\n" + out.decode(errors="replace"))
sys.exit(code)
