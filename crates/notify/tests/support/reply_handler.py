"""aiosmtpd handler for the tests: answers every RCPT TO with a fixed reply.

    python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c reply_handler.Reply 550 no such user
"""


class Reply:
    def __init__(self, reply):
        self.reply = reply

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(" ".join(args))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply
