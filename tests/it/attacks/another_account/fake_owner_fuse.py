# A FUSE filesystem that says every file in it is the victim's and private, served by another
# account: what any account can mount where `fusermount` allows `allow_other` (it mounts as
# root, then hands the descriptor over). Run as root:
#   python3 -c PROGRAM MOUNTPOINT CLAIMED_UID SERVER_UID LOG
# It mounts, drops to SERVER_UID, answers in memory, and writes one line to LOG for every file
# made or written in it ("made NAME", "wrote NAME").
import ctypes, errno, os, struct, sys, time

mountpoint, claimed, server, log_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open("/dev/fuse", os.O_RDWR)
options = f"fd={fd},rootmode=40000,user_id={server},group_id={server},allow_other"
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(b"fake", mountpoint.encode(), b"fuse", 0, options.encode()) != 0:
    sys.exit("mount: " + os.strerror(ctypes.get_errno()))
log = open(log_path, "a", buffering=1)
os.setgroups([])
os.setresgid(server, server, server)
os.setresuid(server, server, server)
now = int(time.time())
nodes = {1: {"mode": 0o040700, "data": bytearray(), "kids": {}, "name": b"/"}}


def attr(node):
    n = nodes[node]
    links = 2 if n["mode"] & 0o040000 else 1
    return struct.pack("<QQQQQQIIIIIIIIII", node, len(n["data"]), 0, now, now, now, 0, 0, 0,
                       n["mode"], links, claimed, claimed, 0, 4096, 0)


def entry(node):
    return struct.pack("<QQQQII", node, 0, 0, 0, 0, 0) + attr(node)


def reply(unique, error=0, body=b""):
    os.write(fd, struct.pack("<IiQ", 16 + len(body), -error, unique) + body)


def make(parent, name, mode):
    node = max(nodes) + 1
    nodes[node] = {"mode": mode, "data": bytearray(), "kids": {}, "name": name}
    nodes[parent]["kids"][name] = node
    log.write(f"made {name.decode(errors='replace')}\n")
    return node


while True:
    try:
        request = os.read(fd, 1 << 20)
    except OSError as e:
        if e.errno == errno.ENODEV:
            break
        continue
    _, op, unique, node, _, _, _ = struct.unpack_from("<IIQQIII", request)
    body = request[40:]
    name = body.split(b"\0")[0]
    if op == 26:  # INIT
        reply(unique, 0, struct.pack("<IIIIHHIIHHII24x", 7, 31, 0, 0, 16, 12, 65536, 1, 0, 0, 0, 0))
    elif op in (2, 36, 42):  # FORGET, INTERRUPT, BATCH_FORGET: no answer
        pass
    elif op == 1:  # LOOKUP
        child = nodes[node]["kids"].get(name)
        reply(unique, errno.ENOENT) if child is None else reply(unique, 0, entry(child))
    elif op in (3, 4):  # GETATTR, SETATTR (a chmod changes nothing it says)
        reply(unique, 0, struct.pack("<QII", 0, 0, 0) + attr(node))
    elif op in (8, 9):  # MKNOD (a socket), MKDIR
        mode = struct.unpack_from("<I", body)[0]
        name = body[16 if op == 8 else 8:].split(b"\0")[0]
        kind = 0 if op == 8 else 0o040000
        reply(unique, 0, entry(make(node, name, kind | mode)))
    elif op == 35:  # CREATE
        mode = struct.unpack_from("<II", body)[1]
        name = body[16:].split(b"\0")[0]
        child = nodes[node]["kids"].get(name) or make(node, name, 0o100000 | (mode & 0o7777))
        reply(unique, 0, entry(child) + struct.pack("<QII", child, 0, 0))
    elif op == 16:  # WRITE
        _, offset, size = struct.unpack_from("<QQI", body)
        nodes[node]["data"][offset:offset + size] = body[40:40 + size]
        log.write(f"wrote {nodes[node]['name'].decode(errors='replace')}\n")
        reply(unique, 0, struct.pack("<II", size, 0))
    elif op in (10, 11):  # UNLINK, RMDIR
        nodes[node]["kids"].pop(name, None)
        reply(unique)
    elif op == 17:  # STATFS
        reply(unique, 0, struct.pack("<QQQQQIIII24x", 0, 0, 0, 0, 0, 4096, 255, 4096, 0))
    elif op in (14, 27):  # OPEN, OPENDIR
        reply(unique, 0, struct.pack("<QII", node, 0, 0))
    elif op == 28:  # READDIR: nothing listed
        reply(unique, 0, b"")
    elif op in (18, 20, 25, 29, 30, 34):  # RELEASE, FSYNC, FLUSH, RELEASEDIR, FSYNCDIR, ACCESS
        reply(unique)
    elif op == 38:  # DESTROY
        break
    else:
        reply(unique, errno.ENOSYS)
