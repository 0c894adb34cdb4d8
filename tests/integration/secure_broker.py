"""A second, temporary Kafka broker with TLS and SASL_SSL (SCRAM-SHA-512, PLAIN)
listeners, for tests/integration/test_secure.py.

Single node in KRaft mode (broker and controller in one process) on free
ports of 127.0.0.1, its whole state (certificates, configuration, data,
log) in one temporary directory that stop() removes. The Kafka jars are
the ones deploy/kafka-local.sh caches (`kafka-local.sh fetch` fills the
cache on first use); the default PLAINTEXT broker the other tests use is
not touched.

Listeners:
  SSL       TLS, server certificate only (the client checks it against ca.pem)
  SASL_SSL  TLS + SCRAM-SHA-512; the users are created at format time with
            Kafka's own StorageTool (--add-scram), as an operator would
  CONTROLLER PLAINTEXT, the KRaft controller (not for clients)
Brokers talk to each other (here: to themselves) over SSL.

Certificates are made with openssl: a CA, the broker's key and a
certificate for 127.0.0.1 and localhost signed by it (a PEM keystore,
ssl.keystore.type=PEM), and a second, unrelated CA (rogue_ca) whose
trust makes the broker look untrusted.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

from confluent_kafka.admin import AdminClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VERSION = os.environ.get("FANZHA_KAFKA_VERSION", "4.4.0")
# the newest Kafka line whose SCRAM server still takes the nonce that
# librdkafka before 2.6.1 sends (Kafka 4.0 refuses it; librdkafka PR 4895)
SCRAM_COMPAT_VERSION = "3.9.1"
USER, PASSWORD = "fanzha-svc", "s3cret-Scram-512"


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


class SecureBroker:
    def __init__(self, version=VERSION, extra=""):
        self.version = version
        self.extra = extra  # more server.properties lines
        self.dir = tempfile.mkdtemp(prefix="fanzha-secure-kafka-")
        self.proc = None
        self.ssl_port, self.sasl_port, self.ctl_port = free_ports(3)
        self.ssl_bootstrap = f"127.0.0.1:{self.ssl_port}"
        self.sasl_bootstrap = f"127.0.0.1:{self.sasl_port}"
        self.ca = os.path.join(self.dir, "ca.pem")
        self.rogue_ca = os.path.join(self.dir, "rogue-ca.pem")

    # ---- certificates ----
    def make_certs(self):
        d = self.dir
        for name in ("ca", "rogue-ca"):
            run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.pem",
                 "-subj", f"/CN=fanzha test {name}"])
        with open(f"{d}/san.cnf", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/broker.key",
             "-out", f"{d}/broker.csr", "-subj", "/CN=localhost"])
        run(["openssl", "x509", "-req", "-in", f"{d}/broker.csr", "-CA", self.ca,
             "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2",
             "-extfile", f"{d}/san.cnf", "-out", f"{d}/broker.pem"])
        # Kafka's PEM keystore: the PKCS#8 private key, then the chain
        with open(f"{d}/broker-keystore.pem", "w") as out:
            for part in ("broker.key", "broker.pem", "ca.pem"):
                with open(f"{d}/{part}") as f:
                    out.write(f.read())

    # ---- broker ----
    def libs(self):
        libs = os.path.join(ROOT, ".cache", "kafka", self.version, "libs")
        if not os.path.exists(os.path.join(libs, f"kafka_2.13-{self.version}.jar")):
            subprocess.run(["bash", os.path.join(ROOT, "deploy", "kafka-local.sh"), "fetch"],
                           check=True, env={**os.environ, "FANZHA_KAFKA_VERSION": self.version})
        return libs

    def java(self, *args, heap="256m"):
        return ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.dir}/log4j2.properties",
                "-cp", os.path.join(self.libs(), "*"), *args]

    def write_config(self):
        d = self.dir
        with open(f"{d}/log4j2.properties", "w") as f:
            f.write("status = warn\nappender.out.type = Console\nappender.out.name = OUT\n"
                    "appender.out.layout.type = PatternLayout\n"
                    "appender.out.layout.pattern = [%d] %p %m (%c)%n\n"
                    "rootLogger.level = INFO\nrootLogger.appenderRef.out.ref = OUT\n")
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        # PLAIN over TLS: what every librdkafka logs in to Kafka 4 with
        plain = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
                 f'user_{USER}="{PASSWORD}";')
        with open(f"{d}/server.properties", "w") as f:
            f.write(f"""process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{self.ctl_port}
listeners=SSL://127.0.0.1:{self.ssl_port},SASL_SSL://127.0.0.1:{self.sasl_port},CONTROLLER://127.0.0.1:{self.ctl_port}
advertised.listeners=SSL://127.0.0.1:{self.ssl_port},SASL_SSL://127.0.0.1:{self.sasl_port}
listener.security.protocol.map=SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SSL
controller.listener.names=CONTROLLER
ssl.keystore.type=PEM
ssl.keystore.location={d}/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location={self.ca}
ssl.client.auth=none
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}
listener.name.sasl_ssl.plain.sasl.jaas.config={plain}
log.dirs={d}/data
metadata.log.dir={d}/meta
num.partitions=2
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=2
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=2
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
{self.extra}""")

    def start(self, timeout=120):
        self.make_certs()
        self.write_config()
        cid = run(self.java("kafka.tools.StorageTool", "random-uuid")).strip().splitlines()[-1]
        run(self.java("kafka.tools.StorageTool", "format", "-t", cid, "-c",
                      f"{self.dir}/server.properties", "--standalone",
                      "--add-scram", f'SCRAM-SHA-512=[name="{USER}",password="{PASSWORD}"]'))
        self.log_path = f"{self.dir}/broker.log"
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.java("kafka.Kafka", f"{self.dir}/server.properties",
                                               heap="512m"),
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the test broker exited:\n{self.log()[-4000:]}")
            try:
                md = AdminClient(self.ssl_client()).list_topics(timeout=2)
                if md.brokers:
                    return self
            except Exception:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the test broker did not answer in {timeout} s:\n{self.log()[-4000:]}")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def set_password(self, user, password):
        """Change a SCRAM user's password on the running broker, with
        Kafka's kafka-configs tool (over the TLS listener)."""
        props = f"{self.dir}/tool-ssl.properties"
        with open(props, "w") as f:
            f.write(f"security.protocol=SSL\nssl.truststore.type=PEM\n"
                    f"ssl.truststore.location={self.ca}\n")
        # the tool moved from Scala (kafka.admin) to Java in Kafka 4.0
        tool = ("org.apache.kafka.tools.ConfigCommand" if int(self.version.split(".")[0]) >= 4
                else "kafka.admin.ConfigCommand")
        run(self.java(tool, "--bootstrap-server",
                      self.ssl_bootstrap, "--command-config", props, "--alter",
                      "--add-config", f"SCRAM-SHA-512=[password={password}]",
                      "--entity-type", "users", "--entity-name", user))

    # ---- client properties (librdkafka names) ----
    def ssl_client(self, ca=None):
        return {"bootstrap.servers": self.ssl_bootstrap, "security.protocol": "SSL",
                "ssl.ca.location": ca or self.ca}

    def plain_client(self, password=PASSWORD):
        return {"bootstrap.servers": self.sasl_bootstrap, "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "PLAIN", "sasl.username": USER, "sasl.password": password,
                "ssl.ca.location": self.ca}

    def sasl_client(self, password=PASSWORD, ca=None):
        return {"bootstrap.servers": self.sasl_bootstrap, "security.protocol": "SASL_SSL",
                "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": USER,
                "sasl.password": password, "ssl.ca.location": ca or self.ca}
