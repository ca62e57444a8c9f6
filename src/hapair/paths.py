"""Paths on a node that both the renderer (which writes the files) and the
agent (which reads them at run time) must agree on. Nothing else lives here."""

from __future__ import annotations

# Where the agent and keepalived meet on every node.
RUN_DIR = "/run/hapair"
NOTIFY_FIFO = f"{RUN_DIR}/keepalived.fifo"
TRACK_FILE = f"{RUN_DIR}/vrrp-fault"
# The agent's stop hook writes how long it took here ("START END HOW"), for
# the next agent to report.
STOP_FENCE_TIMES = f"{RUN_DIR}/stop-fence"
# A restart of the agent in place (agent/restarting.py): "UPTIME_END UNIX_END",
# its window's end, read by the stop hook, keepalived's check and the next agent.
RESTART_WINDOW = f"{RUN_DIR}/restart-window"
# The kernel's ARP settings the VIP's linger on lo needs (agent/api/commands.py).
SYSCTL_FILE = "/etc/sysctl.d/60-hapair.conf"
ETC_DIR = "/etc/hapair"
SPEC_JSON = f"{ETC_DIR}/cluster.json"
APP_ENV = f"{ETC_DIR}/app.env"
APP_SECRETS_ENV = f"{ETC_DIR}/app-secrets.env"
# The variables that name the database account, for web.setup's commands
# only: the migration account's (it may change tables; the application's
# account may not).
APP_MIGRATION_ENV = f"{ETC_DIR}/app-migration.env"
# gunicorn's hooks (rendered): each worker leaves a file named after its pid
# in APP_LOADED_DIR once it has loaded the application.
GUNICORN_CONF = f"{ETC_DIR}/gunicorn.conf.py"
APP_LOADED_DIR = "/run/hapair-app/loaded"
# Its file that says how many workers gunicorn starts.
APP_WANTED_FILE = "wanted"
AGENT_SECRETS_ENV = f"{ETC_DIR}/agent-secrets.env"
# What apply changed and the node still owes (a restart, a reload), one empty
# file per item: the roll reads and clears them; the agent shows them.
PENDING_DIR = "/var/lib/hapair/pending"
AGENT_CREDENTIAL = "agent-secrets"  # its name in the agent unit's LoadCredential=
WEBHOOK_SECRET_ENV = "HAPAIR_WEBHOOK_SECRET"  # in AGENT_SECRETS_ENV: signs alert posts
FENCE_PASSWORD_ENV = "HAPAIR_PEER_FENCE_PASSWORD"  # in AGENT_SECRETS_ENV: the peer's device
HAPAIR_VENV = "/opt/hapair/venv"
APP_USER = "hapair-app"
# The agent's own state on the node.
STATE_DIR = "/var/lib/hapair"
INTENT_FILE = f"{STATE_DIR}/agent-state.json"  # the operator's pause and degrade
REBUILD_WORK = f"{STATE_DIR}/rebuild"
REPLACED_DATA = f"{STATE_DIR}/replaced-data"
# The witness's etcd: certificates from the cluster CA, on every member; the
# agent's own client certificate (no common name, see pki.issue) and password.
ETCD_CERT_DIR = f"{ETC_DIR}/etcd"
ETCD_CA = f"{ETCD_CERT_DIR}/ca.crt"
ETCD_AGENT_CERT = f"{ETCD_CERT_DIR}/agent.crt"
ETCD_AGENT_KEY = f"{ETCD_CERT_DIR}/agent.key"
ETCD_AGENT_USER = "hapair-agent"  # reads and writes under /hapair/<cluster>/ only
ETCD_PASSWORD_ENV = "HAPAIR_ETCD_PASSWORD"  # in AGENT_SECRETS_ENV: the agents' etcd user
# The agents' API over TLS: each node's certificate from the cluster CA (its
# names and addresses), and the CA that peers and operators check it against.
AGENT_TLS_DIR = f"{ETC_DIR}/tls"
AGENT_CA = f"{AGENT_TLS_DIR}/ca.crt"
AGENT_CERT = f"{AGENT_TLS_DIR}/agent.crt"
AGENT_KEY = f"{AGENT_TLS_DIR}/agent.key"
# MariaDB's certificate (replication and the agents' remote connections are
# TLS; the key is the mysql user's).
DB_CERT = f"{AGENT_TLS_DIR}/mariadb.crt"
DB_KEY = f"{AGENT_TLS_DIR}/mariadb.key"
# Apache's certificate when web.tls is "cluster-ca" (for the VIP and server_name).
WEB_CERT = f"{AGENT_TLS_DIR}/web.crt"
WEB_KEY = f"{AGENT_TLS_DIR}/web.key"
# Gluster's TLS (every host of its pool, the arbiter's included): the paths
# its documentation names; Debian's build reads them from OpenSSL's own
# directory instead, where links point at these (GLUSTER_TLS_LINKS).
GLUSTER_CERT = "/etc/ssl/glusterfs.pem"
GLUSTER_KEY = "/etc/ssl/glusterfs.key"
GLUSTER_CA = "/etc/ssl/glusterfs.ca"
GLUSTER_TLS_LINKS = "/usr/lib/ssl"
