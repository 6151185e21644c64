# A minimal SMTP sink that waits DELAY seconds before every reply (a slow mail server).
import socket, sys, threading, time
PORT, DELAY = int(sys.argv[1]), float(sys.argv[2])
count = 0
def handle(c):
    global count
    f = c.makefile('rb')
    def say(*lines):
        time.sleep(DELAY)
        c.sendall(b"".join(l.encode() + b"\r\n" for l in lines))
    try:
        say("220 slow ESMTP")
        while True:
            line = f.readline()
            if not line: break
            cmd = line.decode(errors='replace').strip().upper()
            if cmd.startswith("EHLO"): say("250-slow", "250 8BITMIME")
            elif cmd == "DATA":
                say("354 go ahead")
                while True:
                    l = f.readline()
                    if not l or l in (b".\r\n", b".\n"): break
                count += 1
                say("250 queued")
            elif cmd.startswith("QUIT"): say("221 bye"); break
            else: say("250 OK")
    except OSError:
        pass
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", PORT)); s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
