from ecandidat.runtime.service import run

from .service import create

if __name__ == "__main__":
    run(create())
