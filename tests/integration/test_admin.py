"""The admin socket, attacked the way an operator or a local user could: it
exists with its final mode (0660) from the moment it can be connected to,
whatever the umask; peers are checked with SO_PEERCRED against
admin_users / admin_groups (root and fanzha's own user always pass); a
client that trickles its command one byte at a time neither delays
SIGHUP nor another client's `admin reload`, and is dropped at its
deadline. The refused-peer cases need root (to run a client as another
user with setpriv); they skip, saying so, otherwise."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid

import harness as h

import unittest

NOBODY = 65534
ADMIN_GID = 4242  # a group id nobody is in unless the test gives it


def admin(sock, cmd, prefix=(), timeout=30):
    return subprocess.run([*prefix, h.FANZHA, "admin", "--socket", sock, cmd],
                          capture_output=True, text=True, timeout=timeout)


def as_user(uid, gid, groups=None):
    g = ("--groups", ",".join(map(str, groups))) if groups else ("--clear-groups",)
    return ("setpriv", f"--reuid={uid}", f"--regid={gid}", *g)


class AdminSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rules = tempfile.mkdtemp(prefix="fanzha-rules-")
        shutil.copy(os.path.join(h.RULES, "test.yaml"), cls.rules)
        cls.sockdir = tempfile.mkdtemp(prefix="fanzha-admin-")
        cls.sock = os.path.join(cls.sockdir, "admin.sock")
        # a stale socket from an earlier run: replaced
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(cls.sock)
        stale.close()
        cls.topics = topics = h.create_topics({"events": 1, "alerts": 1, "dlq": 1})
        group = f"g-admin-{uuid.uuid4().hex[:6]}"
        cls.first_mode = []
        stop = threading.Event()

        def watch_mode():  # the first mode the socket is seen with
            # fanzha makes its socket while the stale one still exists, so
            # the new one has another inode number (a bind() after unlink()
            # could reuse it: then nothing is seen, and the test fails too)
            old = os.lstat(cls.sock).st_ino
            while not stop.is_set():
                try:
                    st = os.lstat(cls.sock)
                    if st.st_ino != old:
                        cls.first_mode.append(stat.S_IMODE(st.st_mode))
                        return
                except FileNotFoundError:
                    pass

        t = threading.Thread(target=watch_mode)
        t.start()
        old_umask = os.umask(0)  # the most permissive: bind() would make it 0777
        try:
            cls.f = h.Fanzha("admin", topics, group,
                             ("--rules-dir", cls.rules, "--admin-socket", cls.sock,
                              "--rules-watch", "0",
                              "--admin-users", str(NOBODY - 1),
                              "--admin-groups", str(ADMIN_GID))).start()
        finally:
            os.umask(old_umask)
        try:
            ok = h.wait_for(lambda: admin(cls.sock, "status").returncode == 0, 60)
        finally:
            # the watcher stops by itself once it has seen the new socket;
            # stopping it as soon as the daemon answers could stop it before
            # it ran again on a loaded machine (then it saw nothing)
            t.join(30)
            stop.set()
            t.join()
        if not ok:
            cls.f.stop()
            raise AssertionError(cls.f.log())

    @classmethod
    def tearDownClass(cls):
        cls.f.stop()
        shutil.rmtree(cls.rules)
        shutil.rmtree(cls.sockdir, ignore_errors=True)

    def test_mode_at_creation(self):
        st = os.lstat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(self.first_mode, [0o660])
        # the private directory it was made in is gone
        self.assertEqual(os.listdir(self.sockdir), ["admin.sock"])

    def start_fails(self, sock, *extra):
        g = f"g-admin-bad-{uuid.uuid4().hex[:6]}"
        f = h.Fanzha("admin-bad", self.topics, g, ("--rules-dir", self.rules,
                                                   "--admin-socket", sock, "--rules-watch", "0",
                                                   *extra))
        f.start()
        try:
            self.assertNotEqual(f.wait(60), 0, f.log())
        finally:
            f.stop()
        return f.log()

    def test_refuses_to_replace_other_files(self):
        path = os.path.join(self.sockdir, "not-a-socket")
        with open(path, "w") as fp:
            fp.write("keep me\n")
        self.assertIn(f"admin_socket {path}: exists and is not a socket", self.start_fails(path))
        with open(path) as fp:
            self.assertEqual(fp.read(), "keep me\n")
        os.remove(path)
        # nor a socket a live daemon answers on
        self.assertIn("another process is listening", self.start_fails(self.sock))
        self.assertEqual(admin(self.sock, "status").returncode, 0)

    def test_unknown_admin_user(self):
        path = os.path.join(self.sockdir, "other.sock")
        self.assertIn("admin_users: no such user 'no-such-user-fz'",
                      self.start_fails(path, "--admin-users", "no-such-user-fz"))
        self.assertIn("admin_groups: no such group 'no-such-group-fz'",
                      self.start_fails(path, "--admin-groups", "no-such-group-fz"))
        self.assertFalse(os.path.exists(path))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to run a client as another user")
    def test_peer_credentials(self):
        # let other users reach the socket at all: the check under test is
        # fanzha's, not the file system's
        os.chmod(self.sockdir, 0o755)
        os.chmod(self.sock, 0o666)
        try:
            r = admin(self.sock, "status", as_user(NOBODY, NOBODY))
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("permission denied: uid 65534", r.stdout)
            self.assertNotIn("ruleset", r.stdout)
            r = admin(self.sock, "reload", as_user(NOBODY, NOBODY))
            self.assertEqual(r.returncode, 1, r)
            self.assertTrue(h.wait_for(lambda: "admin socket: refused" in self.f.log(), 10))
            self.assertIn("uid 65534", self.f.log())
            # rate-limited: two refusals, one line
            self.assertEqual(self.f.log().count("admin socket: refused"), 1)
            # admin_groups: a supplementary group counts
            r = admin(self.sock, "status", as_user(NOBODY, NOBODY, [ADMIN_GID]))
            self.assertEqual(r.returncode, 0, r)
            self.assertIn('"ruleset"', r.stdout)
            # ... and so does the primary one
            r = admin(self.sock, "status", as_user(NOBODY, ADMIN_GID))
            self.assertEqual(r.returncode, 0, r)
            # admin_users by id
            r = admin(self.sock, "status", as_user(NOBODY - 1, NOBODY - 1))
            self.assertEqual(r.returncode, 0, r)
            st = json.loads(admin(self.sock, "status").stdout)
            self.assertGreaterEqual(st["admin_refused"], 2)
        finally:
            os.chmod(self.sock, 0o660)
            os.chmod(self.sockdir, 0o700)

    def test_slow_client_blocks_nothing(self):
        slow = []
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX)
            s.connect(self.sock)
            s.sendall(b"s")
            slow.append(s)
        stop = threading.Event()

        def trickle():
            for b in b"tatus":
                if stop.wait(0.9):
                    return
                for s in slow:
                    try:
                        s.sendall(bytes([b]))
                    except OSError:
                        pass

        t = threading.Thread(target=trickle)
        t.start()
        try:
            time.sleep(0.3)
            before = self.f.log().count("SIGHUP: reloading")
            t0 = time.time()
            self.f.signal(signal.SIGHUP)
            self.assertTrue(h.wait_for(lambda: self.f.log().count("SIGHUP: reloading") > before,
                                     1.5), self.f.log())
            self.assertTrue(h.wait_for(lambda: "unchanged" in self.f.log().split(
                "SIGHUP: reloading")[-1], 5), self.f.log())
            t0 = time.time()
            r = admin(self.sock, "reload")
            self.assertEqual(r.returncode, 0, r)
            self.assertLess(time.time() - t0, 1.5)
            # the slow clients are dropped at their 2 s deadline, told why
            for s in slow:
                s.settimeout(5)
                data = b""
                t0 = time.time()
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.assertIn(b"timeout", data)
            self.assertLess(time.time() - t0, 3)
        finally:
            stop.set()
            t.join()
            for s in slow:
                s.close()
        st = json.loads(admin(self.sock, "status").stdout)
        self.assertGreaterEqual(st["admin_timeouts"], 3)


if __name__ == "__main__":
    h.main()
