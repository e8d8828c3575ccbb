"""giropops-senhas: a tiny password-generator web app (Flask), as in the seed tutorial.

GET /            a form
POST /           generates a password (length, digits, symbols) and keeps the last ones in Redis when
                 REDIS_HOST is set
GET /api/senhas  the last passwords as JSON
"""
import os
import secrets
import string

from flask import Flask, jsonify, render_template_string, request

app = Flask(__name__)
store = None
if os.environ.get("REDIS_HOST"):
    import redis

    store = redis.Redis(host=os.environ["REDIS_HOST"], port=int(os.environ.get("REDIS_PORT", "6379")),
                        decode_responses=True)

PAGE = """<!doctype html><title>Gerador de senhas</title>
<form method=post>
  <label>Tamanho <input name=tamanho type=number value=12 min=4 max=128></label>
  <label><input type=checkbox name=numeros checked> números</label>
  <label><input type=checkbox name=especiais> caracteres especiais</label>
  <button>Gerar</button>
</form>
{% if senha %}<p><code>{{ senha }}</code></p>{% endif %}
"""


def gerar(tamanho: int, numeros: bool, especiais: bool) -> str:
    alphabet = string.ascii_letters
    if numeros:
        alphabet += string.digits
    if especiais:
        alphabet += string.punctuation
    return "".join(secrets.choice(alphabet) for _ in range(tamanho))


@app.route("/", methods=["GET", "POST"])
def index():
    senha = None
    if request.method == "POST":
        tamanho = max(4, min(128, int(request.form.get("tamanho", 12))))
        senha = gerar(tamanho, "numeros" in request.form, "especiais" in request.form)
        if store is not None:
            store.lpush("senhas", senha)
            store.ltrim("senhas", 0, 9)
    return render_template_string(PAGE, senha=senha)


@app.route("/api/senhas")
def senhas():
    return jsonify(store.lrange("senhas", 0, 9) if store is not None else [])


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")))
