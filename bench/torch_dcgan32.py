#!/usr/bin/env python3
"""PyTorch twin of `margan bench --paper`: the paper's DCGAN-32 iteration, timed the same way.

One iteration = 1 critic step (HingeGAN loss, gradient penalty λ·mean(max(0, ‖∇x D(x̂)‖ − 1)) at
interpolates x̂ = u·x + (1−u)·G(z), norm L2 or L∞, built with autograd.grad(create_graph=True))
+ 1 generator step through the frozen critic, Adam(2e-4, β = (0.5, 0.999)); real data are a
fixed uniform batch already on the device, as in margan's bench. Eager mode, default cuDNN settings (no benchmark flag, no AMP).

  python3 bench/torch_dcgan32.py --device cuda --batches 64,256 --penalties none,l2,linf
  python3 bench/torch_dcgan32.py --device cuda --profile      # + per-op breakdown (torch.profiler)
  python3 bench/torch_dcgan32.py --device cuda --fp32         # convolutions without TF32 too
  python3 bench/torch_dcgan32.py --device cuda --layers --batches 64,256   # per convolution
  python3 bench/torch_dcgan32.py --check STEP_JSON   # margan's step, recomputed (tests/pytorch_twin.rs)

Prints one row per (batch, penalty): it/s and ms/it after warm-up, synchronised. With --layers,
every DCGAN-32 convolution alone (forward, input gradient, weight gradient; ms per op, the
median of samples of --repeat launches between synchronisations, TF32 off unless --tf32), the
rows of `margan bench --layers` (which times them the same way).

With --json PATH the rows are also written there, for `margan bench --against PATH` (and
`margan bench --layers --against PATH`), which prints margan's ratio to them and the targets of
issue #9: {"torch", "device", "tf32", "kind": "iteration" | "layers", "repeat", "rows": [{"batch",
"penalty", "it_per_s", "ms_per_it"} | {"batch", "layer", "op", "ms"}]}.
"""
import argparse
import json
import time

import torch
import torch.nn as nn


def generator(z_dim=128, width=128, channels=3):
    # z → 4×4×512 → 8×8×256 → 16×16×128 → 32×32×3 (transposed 4×4 convolutions without bias).
    return nn.Sequential(
        nn.ConvTranspose2d(z_dim, width * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(width * 4), nn.ReLU(),
        nn.ConvTranspose2d(width * 4, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.ReLU(),
        nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh(),
    )


def critic(width=128, channels=3, slope=0.2):
    # 32×32×3 → 16×16×128 → 8×8×256 → 4×4×512 → 1 (BatchNorm after the middle convolutions).
    return nn.Sequential(
        nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(slope),
        nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(slope),
        nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 4), nn.LeakyReLU(slope),
        nn.Conv2d(width * 4, 1, 4, 1, 0, bias=False),
    )


def init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def sample_norms(g, norm):
    g = g.flatten(1)
    if norm == "l1":
        return g.abs().sum(dim=1)
    return g.norm(2, dim=1) if norm == "l2" else g.abs().amax(dim=1)


def penalty(d, real, fake, norm, weight, u=None):
    if u is None:
        u = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x = (u * real + (1 - u) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return weight * FORMS["hinge"](sample_norms(g, norm)).mean()


def step(g, d, opt_g, opt_d, real, z_dim, norm, weight):
    n = real.shape[0]
    fake = g(torch.randn(n, z_dim, 1, 1, device=real.device)).detach()
    d_hinge, g_hinge = LOSSES["hinge"]
    loss = d_hinge(d(real), d(fake))
    if norm != "none":
        loss = loss + penalty(d, real, fake, norm, weight)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    # As in the paper's code (and margan's Gan::g_step): the critic's parameters are frozen for
    # the generator update, so its weight gradients are not computed.
    d.requires_grad_(False)
    out = d(g(torch.randn(n, z_dim, 1, 1, device=real.device)))
    loss_g = g_hinge(None, out)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    d.requires_grad_(True)


# name, transposed, c_in, c_out, input side, stride, padding (4×4 kernels): margan's
# trainer/src/bench_layers.rs lists the same layers in the same order.
LAYERS = [
    ("G convT 128→512 1→4", True, 128, 512, 1, 1, 0),
    ("G convT 512→256 4→8", True, 512, 256, 4, 2, 1),
    ("G convT 256→128 8→16", True, 256, 128, 8, 2, 1),
    ("G convT 128→3 16→32", True, 128, 3, 16, 2, 1),
    ("D conv 3→128 32→16", False, 3, 128, 32, 2, 1),
    ("D conv 128→256 16→8", False, 128, 256, 16, 2, 1),
    ("D conv 256→512 8→4", False, 256, 512, 8, 2, 1),
    ("D conv 512→1 4→1", False, 512, 1, 4, 1, 0),
]


def median_ms(fn, dev, iters, repeat, warmup=2):
    """Median ms of one `fn` over `iters` samples of `repeat` launches between synchronisations
    (margan's `bench --layers` times its ops the same way)."""
    for _ in range(warmup):
        fn()
    sync(dev)
    out = []
    for _ in range(iters):
        t = time.perf_counter()
        ys = [fn() for _ in range(repeat)]
        sync(dev)
        out.append(1e3 * (time.perf_counter() - t) / repeat)
        del ys
    return sorted(out)[len(out) // 2]


def layers(dev, batches, iters, repeat, rows):
    import torch.nn.functional as F
    from torch.nn.grad import conv2d_input, conv2d_weight

    total = 0.0
    print(f"{'batch':>6}  {'layer':<22} {'op':<7} {'cudnn ms':>10}")
    for batch in batches:
        for name, transposed, ci, co, size, s, p in LAYERS:
            k = 4
            out = (size - 1) * s + k - 2 * p if transposed else (size + 2 * p - k) // s + 1
            x = torch.randn(batch, ci, size, size, device=dev)
            gy = torch.randn(batch, co, out, out, device=dev)
            if transposed:
                w = torch.randn(ci, co, k, k, device=dev) * 0.02
                ops = [("fwd", lambda: F.conv_transpose2d(x, w, stride=s, padding=p)),
                       ("dinput", lambda: F.conv2d(gy, w, stride=s, padding=p)),
                       ("dweight", lambda: conv2d_weight(gy, w.shape, x, stride=s, padding=p))]
            else:
                w = torch.randn(co, ci, k, k, device=dev) * 0.02
                ops = [("fwd", lambda: F.conv2d(x, w, stride=s, padding=p)),
                       ("dinput", lambda: conv2d_input(x.shape, w, gy, stride=s, padding=p)),
                       ("dweight", lambda: conv2d_weight(x, w.shape, gy, stride=s, padding=p))]
            with torch.no_grad():
                for op, fn in ops:
                    ms = median_ms(fn, dev, iters, repeat)
                    total += ms
                    rows.append({"batch": batch, "layer": name, "op": op, "ms": ms})
                    print(f"{batch:>6}  {name:<22} {op:<7} {ms:>10.3f}", flush=True)
    print(f"{'':>6}  {'total':<22} {'':<7} {total:>10.3f}")


# The paper's losses (its code's loss_D 1–4, 31–33, 11–13: Rp critic losses carry a factor 2) as
# (critic loss, generator loss) of the critic's outputs on real and fake samples.
def _bce(x, target):  # mean binary cross-entropy of logits, as BCEWithLogitsLoss
    return nn.functional.binary_cross_entropy_with_logits(x, torch.full_like(x, target))


LOSSES = {
    "sgan": (lambda r, f: _bce(r, 1) + _bce(f, 0), lambda r, f: _bce(f, 1)),
    "lsgan": (lambda r, f: ((r - 1) ** 2).mean() + (f ** 2).mean(), lambda r, f: ((f - 1) ** 2).mean()),
    "hinge": (lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(), lambda r, f: -f.mean()),
    "wgan": (lambda r, f: f.mean() - r.mean(), lambda r, f: -f.mean()),
    "rpsgan": (lambda r, f: 2 * _bce(r - f, 1), lambda r, f: _bce(f - r, 1)),
    "rplsgan": (lambda r, f: 2 * ((r - f - 1) ** 2).mean(), lambda r, f: ((f - r - 1) ** 2).mean()),
    "rphinge": (lambda r, f: 2 * torch.relu(1 - (r - f)).mean(), lambda r, f: torch.relu(1 - (f - r)).mean()),
    "rasgan": (lambda r, f: _bce(r - f.mean(), 1) + _bce(f - r.mean(), 0),
               lambda r, f: _bce(r - f.mean(), 0) + _bce(f - r.mean(), 1)),
    "ralsgan": (lambda r, f: ((r - f.mean() - 1) ** 2).mean() + ((f - r.mean() + 1) ** 2).mean(),
                lambda r, f: ((r - f.mean() + 1) ** 2).mean() + ((f - r.mean() - 1) ** 2).mean()),
    "rahinge": (lambda r, f: torch.relu(1 - (r - f.mean())).mean() + torch.relu(1 + (f - r.mean())).mean(),
                lambda r, f: torch.relu(1 + (r - f.mean())).mean() + torch.relu(1 - (f - r.mean())).mean()),
}
RELATIVISTIC = {"rpsgan", "rplsgan", "rphinge", "rasgan", "ralsgan", "rahinge"}
FORMS = {
    "ls": lambda n: (n - 1) ** 2,
    "hinge": lambda n: torch.relu(n - 1),
    "squared-hinge": lambda n: torch.relu(n - 1) ** 2,
    "zero-centered": lambda n: n ** 2,
}


def sn_critic(width, slope, state):
    """The critic with spectral normalisation instead of BatchNorm, as the paper's code builds it
    (`torch.nn.utils.spectral_norm`, one power iteration per forward pass in training mode),
    starting from margan's singular-vector estimates `state` ([u, v] per convolution)."""
    sn = lambda conv: nn.utils.spectral_norm(conv, n_power_iterations=1, eps=1e-12)
    d = nn.Sequential(
        sn(nn.Conv2d(3, width, 4, 2, 1, bias=False)), nn.LeakyReLU(slope),
        sn(nn.Conv2d(width, width * 2, 4, 2, 1, bias=False)), nn.LeakyReLU(slope),
        sn(nn.Conv2d(width * 2, width * 4, 4, 2, 1, bias=False)), nn.LeakyReLU(slope),
        sn(nn.Conv2d(width * 4, 1, 4, 1, 0, bias=False)),
    ).double()
    convs = [m for m in d if isinstance(m, nn.Conv2d)]
    if len(state) != 2 * len(convs):
        raise SystemExit(f"spectral critic: margan gives {len(state)} state tensors, this twin needs {2 * len(convs)}")
    with torch.no_grad():
        for conv, u, v in zip(convs, state[0::2], state[1::2]):
            for name, given in (("weight_u", u), ("weight_v", v)):
                buf = getattr(conv, name)
                if list(buf.shape) != given["shape"]:
                    raise SystemExit(f"spectral critic {name}: margan's shape {given['shape']}, this twin's {list(buf.shape)}")
                buf.copy_(torch.tensor(given["values"], dtype=torch.float64))
    return d


def load_params(net, given, name):
    params = list(net.parameters())
    if len(params) != len(given):
        raise SystemExit(f"{name}: margan has {len(given)} parameter tensors, this twin {len(params)}")
    with torch.no_grad():
        for k, (p, v) in enumerate(zip(params, given)):
            if list(p.shape) != v["shape"]:
                raise SystemExit(f"{name} parameter {k}: margan's shape {v['shape']}, this twin's {list(p.shape)}")
            p.copy_(torch.tensor(v["values"], dtype=torch.float64).reshape(v["shape"]))


def check_step(g, s, real, z, st, tol):
    """One of margan's steps recomputed; prints its table, returns (all within tol, largest).
    The critic sees the batches in margan's order (real, fake, the penalty's points; then the
    generator's fakes and, for relativistic losses, the reals): with spectral normalisation each
    forward pass moves the power iteration on."""
    n = real.shape[0]
    if st["spectral"]:
        d = sn_critic(s["width"], s["slope"], st["d_state"])
    else:
        d = critic(width=s["width"], slope=s["slope"]).double()
    load_params(d, st["d_params"], "critic")
    fake = g(z).detach()
    xr, xf = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    out_r, out_f = d(xr).reshape(n), d(xf).reshape(n)
    # ∇ₓ Σ D(x) at the reals and the fakes, through the passes the loss uses (kept
    # differentiable: R1 and R2 penalise them).
    (gr,) = torch.autograd.grad(out_r.sum(), xr, create_graph=True)
    (gf,) = torch.autograd.grad(out_f.sum(), xf, create_graph=True)
    norms = [sample_norms(x.detach(), st["norm"]).mean().item() for x in (gr, gf)]
    d_fn, g_fn = LOSSES[st["loss"]]
    loss = d_fn(out_r, out_f)
    if st["at"] in ("interpolates", "real-perturbed"):
        u = torch.tensor(st["u"], dtype=torch.float64).reshape(n, 1, 1, 1)
        if st["at"] == "interpolates":
            points = u * real + (1 - u) * fake
        else:  # DRAGAN: x + (1 − u)·δ, δ = ½·std(x)·U[0, 1)
            noise = torch.tensor(st["noise"], dtype=torch.float64).reshape(real.shape)
            points = real + (1 - u) * 0.5 * real.std() * noise
        x = points.requires_grad_(True)
        (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    else:
        grad = gr if st["at"] == "real" else gf
    pen = st["lambda"] * FORMS[st["form"]](sample_norms(grad, st["norm"])).mean()
    d_grads = torch.autograd.grad(loss + pen, list(d.parameters()))
    d.requires_grad_(False)
    cf = d(g(z)).reshape(n)
    cr = d(real).reshape(n) if st["loss"] in RELATIVISTIC else torch.zeros_like(cf)
    loss_g = g_fn(cr, cf)
    g_grads = torch.autograd.grad(loss_g, list(g.parameters()))
    worst = 0.0
    print(f"{st['loss']}, {st['form']} {st['norm']} penalty λ={st['lambda']:g} at {st['at']}"
          f"{', spectrally normalised critic' if st['spectral'] else ''}:")
    for name, ours, theirs in (("critic loss", loss.item(), st["d_loss"]),
                               ("penalty", pen.item(), st["penalty"]),
                               ("generator loss", loss_g.item(), st["g_loss"]),
                               ("mean grad norm at real", norms[0], st["grad_norms"][0]),
                               ("mean grad norm at fake", norms[1], st["grad_norms"][1])):
        e = abs(ours - theirs) / max(abs(ours), 1.0)
        worst = max(worst, e)
        print(f"  {name:<24} torch {ours:.12g}  margan {theirs:.12g}  {e:.1e}")
    for name, ours, theirs in (("critic", d_grads, st["d_grads"]), ("generator", g_grads, st["g_grads"])):
        if len(ours) != len(theirs):
            raise SystemExit(f"{name}: margan gives {len(theirs)} gradients, this twin {len(ours)}")
        errs = []
        for a, b in zip(ours, theirs):
            b = torch.tensor(b, dtype=torch.float64).reshape(a.shape)
            errs.append(((a - b).abs().max() / a.abs().max().clamp_min(1e-300)).item())
        worst = max([worst] + errs)
        print(f"  {name} gradients ({len(errs)} tensors): largest difference {max(errs):.1e}")
    return worst <= tol, worst


def check(path, tol):
    """Recomputes margan's penalised steps (written by margan's test `tests/pytorch_twin.rs`)
    here, in float64 with PyTorch's autograd, from the same parameters, batches and penalty
    draws; prints the differences and returns whether all are within `tol`."""
    try:
        with open(path) as f:
            s = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"--check {path}: cannot read margan's steps ({e}); margan's test "
                         f"tests/pytorch_twin.rs writes them (cargo test --release --test pytorch_twin)")
    t = lambda o: torch.tensor(o["values"], dtype=torch.float64).reshape(o["shape"])
    g = generator(z_dim=s["z_dim"], width=s["width"]).double()
    load_params(g, s["g_params"], "generator")
    print(f"margan's steps against PyTorch {torch.__version__} (float64, autograd.grad(create_graph=True)); "
          f"relative differences (gradients: to each tensor's largest value), tolerance {tol:g}")
    results = [check_step(g, s, t(st["real"]), t(st["z"]), st, tol) for st in s["steps"]]
    worst = max(w for _, w in results)
    bad = sum(1 for ok, _ in results if not ok)
    if bad:
        print(f"DIFFERENT: {bad} of {len(results)} steps beyond the tolerance (largest difference {worst:.1e})")
    else:
        print(f"every step the same: {len(results)} steps, largest difference {worst:.1e} (tolerance {tol:g})")
    return bad == 0


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batches", default="64,256")
    ap.add_argument("--penalties", default="none,l2,linf")
    ap.add_argument("--weight", type=float, default=20.0)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--profile", action="store_true", help="per-op breakdown of one iteration per row")
    ap.add_argument("--layers", action="store_true", help="time every convolution alone instead")
    ap.add_argument("--tf32", action="store_true", help="--layers: allow TF32 (default off, as the issue's target)")
    ap.add_argument("--repeat", type=int, default=10,
                    help="--layers: launches of each op per timed sample, between two synchronisations "
                         "(1: every op waited on alone); as margan bench --layers --repeat")
    ap.add_argument("--fp32", action="store_true",
                    help="full iteration: TF32 off for cuDNN too (default: PyTorch's default, which lets cuDNN "
                         "convolutions use TF32 tensor cores; margan computes in f32)")
    ap.add_argument("--json", metavar="PATH", help="also write the rows there (for `margan bench --against PATH`)")
    ap.add_argument("--check", metavar="STEP_JSON",
                    help="instead of timing: recompute margan's penalised step written there (by margan's test "
                         "tests/pytorch_twin.rs) in float64 and compare; exit status 1 if it differs")
    ap.add_argument("--tol", type=float, default=1e-8, help="--check: largest relative difference allowed")
    a = ap.parse_args()
    if a.check:
        raise SystemExit(0 if check(a.check, a.tol) else 1)
    dev = torch.device(a.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    torch.manual_seed(0)
    rows = []

    def save(kind, tf32):
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"torch": torch.__version__, "device": name, "tf32": tf32, "kind": kind,
                           "repeat": a.repeat, "rows": rows}, f, indent=1)

    if a.layers:
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        print(f"torch {torch.__version__} on {name}; "
              f"DCGAN-32 convolutions, TF32 {'on' if a.tf32 else 'off'}, ms per op: median of {a.iterations} "
              f"samples of {a.repeat} launches between synchronisations")
        if a.repeat < 1:
            ap.error("--repeat: at least 1")
        layers(dev, [int(b) for b in a.batches.split(",")], a.iterations, a.repeat, rows)
        save("layers", a.tf32)
        return
    if a.fp32:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    tf32 = "on" if torch.backends.cudnn.allow_tf32 else "off"
    print(f"torch {torch.__version__} on {name}; "
          f"DCGAN-32 width {a.width}, HingeGAN, hinge penalty λ={a.weight} at interpolates, Adam(2e-4, 0.5, 0.999); "
          f"cuDNN TF32 {tf32}{'' if a.fp32 else ' (default)'}")
    print(f"{'batch':>6} {'penalty':>8} {'it/s':>9} {'ms/it':>9}")
    for batch in [int(b) for b in a.batches.split(",")]:
        for norm in a.penalties.split(","):
            g, d = generator(width=a.width).to(dev), critic(width=a.width).to(dev)
            g.apply(init)
            d.apply(init)
            opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
            real = torch.rand(batch, 3, 32, 32, device=dev) * 2 - 1
            for _ in range(a.warmup):
                step(g, d, opt_g, opt_d, real, 128, norm, a.weight)
            sync(dev)
            t = time.perf_counter()
            for _ in range(a.iterations):
                step(g, d, opt_g, opt_d, real, 128, norm, a.weight)
            sync(dev)
            s = time.perf_counter() - t
            print(f"{batch:>6} {norm:>8} {a.iterations / s:>9.2f} {1e3 * s / a.iterations:>9.2f}", flush=True)
            rows.append({"batch": batch, "penalty": norm, "it_per_s": a.iterations / s,
                         "ms_per_it": 1e3 * s / a.iterations})
            # Written after every row: a GPU lent for minutes may be taken back before the last.
            save("iteration", torch.backends.cudnn.allow_tf32 and dev.type == "cuda")
            if a.profile:
                acts = [torch.profiler.ProfilerActivity.CPU]
                if dev.type == "cuda":
                    acts.append(torch.profiler.ProfilerActivity.CUDA)
                with torch.profiler.profile(activities=acts) as prof:
                    step(g, d, opt_g, opt_d, real, 128, norm, a.weight)
                    sync(dev)
                key = "cuda_time_total" if dev.type == "cuda" else "cpu_time_total"
                print(prof.key_averages().table(sort_by=key, row_limit=12))


if __name__ == "__main__":
    main()
