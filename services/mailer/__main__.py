from ecandidat.runtime.service import run

from .service import MailerService

if __name__ == "__main__":
    run(MailerService())
