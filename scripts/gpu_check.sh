#!/usr/bin/env bash
# Prove the CUDA paths the first day a GPU is at hand (issue 20).
#
#   scripts/gpu_check.sh                  # every check on CUDA, then `playground bench all --quick --device cuda`
#   scripts/gpu_check.sh --list           # the checks and their exact commands; runs nothing
#   scripts/gpu_check.sh --only ppo,dcgan # some checks only (names as --list prints them)
#   scripts/gpu_check.sh --device cpu     # the same checks on the CPU with the tiniest settings (to try the flow)
#
# Each RL algorithm trains a few steps with --device cuda (on ALE/Pong-v5: the image path), is resumed for a few
# more steps, evaluated (`rl eval`) and watched headless (`watch --headless`, recorded to a video); each GAN model
# trains a few iterations, is resumed, evaluated (`gan eval`), sampled (`gan sample`) and watched headless
# (`gan watch --headless`). Then the quick benchmarks run on the device. The `coverage` check fails when the
# registries hold an algorithm or model that has no check here. Everything happens in a throwaway
# PLAYGROUND_HOME (nothing touches your runs), with built-in data only (nothing is downloaded). A failed step
# does not stop the others; at the end one table lists every step, ok or failed, with its seconds, and the
# exit status is 1 when anything failed (logs and home are then kept). On a machine without CUDA the script
# says so in one sentence and exits 0. Meant to take under 10 minutes on a GPU machine (not yet measured on one);
# --only splits it. The tabular algorithms are CPU-only: listed as skipped.
#
# Options (each also as an environment variable):
#   --device cuda|cpu   GPU_CHECK_DEVICE     cuda (default) or cpu: cpu runs the same checks, tiny, on CartPole-v1
#   --only A,B          GPU_CHECK_ONLY       run only these checks (comma-separated; see --list)
#   --rl-env ENV        GPU_CHECK_RL_ENV     the RL environment (default ALE/Pong-v5 on cuda, CartPole-v1 on cpu)
#   --home DIR          GPU_CHECK_HOME       use DIR as PLAYGROUND_HOME and keep it (default: a new temporary one)
#   --keep                                   keep the temporary home even when every check passed
#   --list                                   print the checks and their commands, run nothing
#   --step-timeout S    GPU_CHECK_STEP_TIMEOUT  seconds one command may take (default 300; the bench twice that)
#   -h, --help
# The playground command is the repository's .venv/bin/playground, else `playground` on PATH
# (GPU_CHECK_PLAYGROUND overrides both).

set -uo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd)

DEVICE=${GPU_CHECK_DEVICE:-cuda}
ONLY=${GPU_CHECK_ONLY:-}
RL_ENV=${GPU_CHECK_RL_ENV:-}
HOME_DIR=${GPU_CHECK_HOME:-}
STEP_TIMEOUT=${GPU_CHECK_STEP_TIMEOUT:-300}
KEEP=0
LIST=0

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

die() {  # a user's mistake: one sentence, status 2 (as the playground CLI does)
    echo "gpu_check: $*" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --device) [ $# -ge 2 ] || die "--device needs a value: cuda or cpu."; DEVICE=$2; shift 2 ;;
        --device=*) DEVICE=${1#*=}; shift ;;
        --only) [ $# -ge 2 ] || die "--only needs check names, e.g. --only ppo,dcgan."; ONLY=$2; shift 2 ;;
        --only=*) ONLY=${1#*=}; shift ;;
        --rl-env) [ $# -ge 2 ] || die "--rl-env needs an environment id, e.g. ALE/Pong-v5."; RL_ENV=$2; shift 2 ;;
        --rl-env=*) RL_ENV=${1#*=}; shift ;;
        --home) [ $# -ge 2 ] || die "--home needs a folder."; HOME_DIR=$2; shift 2 ;;
        --home=*) HOME_DIR=${1#*=}; shift ;;
        --step-timeout) [ $# -ge 2 ] || die "--step-timeout needs seconds."; STEP_TIMEOUT=$2; shift 2 ;;
        --step-timeout=*) STEP_TIMEOUT=${1#*=}; shift ;;
        --keep) KEEP=1; shift ;;
        --list) LIST=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)." ;;
    esac
done

ONLY=${ONLY// /}
case $DEVICE in
    cuda|cuda:[0-9]*) MODE=cuda ;;
    cpu) MODE=cpu ;;
    *) die "unknown device '$DEVICE': use cuda or cpu." ;;
esac
case $STEP_TIMEOUT in
    ''|*[!0-9]*|0) die "--step-timeout must be a whole number of seconds above 0, not '$STEP_TIMEOUT'." ;;
esac

# -- the checks ----------------------------------------------------------------------------------------------
# Every RL algorithm and GAN model of the registries (agents/__init__.py, gans/__init__.py) has a check here;
# the `coverage` check and tests/test_gpu_check.py fail when one is added without one.
TABULAR=(qlearning sarsa expected-sarsa value-iteration policy-iteration)
RL_CHECKS=(ppo a2c dqn dqn-rainbow a3c sb3-dqn)
GAN_CHECKS=(dcgan dcgan-wgan-gp cdcgan infogan wgan wgan-gp pix2pix cyclegan)

if [ "$MODE" = cuda ]; then
    : "${RL_ENV:=ALE/Pong-v5}"
    ATARI_FRAMES=${PLAYGROUND_ATARI_FRAMES:-400}   # frames per game for atari:Pong, edges2atari:Pong, FD-atari
    GAN_EVAL_N=200
    RL_WATCH_FRAMES=100
    GAN_WATCH_FRAMES=10
else
    : "${RL_ENV:=CartPole-v1}"
    ATARI_FRAMES=${PLAYGROUND_ATARI_FRAMES:-60}
    GAN_EVAL_N=20
    RL_WATCH_FRAMES=20
    GAN_WATCH_FRAMES=4
fi

declare -A STEPS=()   # check -> its steps, in order (space-separated)
declare -A CMD=()     # check/step -> the command line (its first word is `playground`)
declare -A NOTE=()    # check -> why it is skipped, or what it covers

q() {  # words quoted for the shell, one string ($WORK as such in --list)
    if [ "$LIST" = 1 ]; then echo "$*"; else printf '%q ' "$@" | sed 's/ $//'; fi
}

rl_check() {  # NAME ALGO "TRAIN OPTIONS (tiny, cuda)" "TRAIN OPTIONS (tiniest, cpu)" RESUME_TO_CUDA RESUME_TO_CPU [WHAT]
    local name=$1 algo=$2 cuda_opts=$3 cpu_opts=$4 more_cuda=$5 more_cpu=$6 opts more run="gpu-check-$1"
    if [ "$MODE" = cuda ]; then opts=$cuda_opts more=$more_cuda; else opts=$cpu_opts more=$more_cpu; fi
    STEPS[$name]="train resume eval watch"
    NOTE[$name]="$algo${7:+ ($7)} on $RL_ENV"
    CMD[$name/train]="playground rl train $algo $(q "$RL_ENV") --device $DEVICE $opts --eval-episodes 1 --name $run --json"
    CMD[$name/resume]="playground rl resume $run --steps $more --json"
    CMD[$name/eval]="playground rl eval $run --episodes 1 --checkpoint latest --device $DEVICE"
    CMD[$name/watch]="playground watch $run --headless --checkpoint latest --max-frames $RL_WATCH_FRAMES --record $(q "$WORK/videos/$run.mp4")"
}

gan_check() {  # NAME MODEL "DATA AND OPTIONS (cuda)" "DATA AND OPTIONS (cpu)" [WHAT]
    local name=$1 model=$2 opts iters more run="gpu-check-$1"
    if [ "$MODE" = cuda ]; then opts=$3 iters=20 more=40; else opts=$4 iters=2 more=4; fi
    STEPS[$name]="train resume eval sample watch"
    NOTE[$name]="$model${5:+ ($5)} on ${opts%% *}"
    CMD[$name/train]="playground gan train $model $opts --device $DEVICE --iters $iters --name $run --json"
    CMD[$name/resume]="playground gan resume $run --iters $more --json"
    CMD[$name/eval]="playground gan eval $run --n $GAN_EVAL_N --device $DEVICE"
    CMD[$name/sample]="playground gan sample $run --n 16 --device $DEVICE --out $(q "$WORK/samples/$run.png")"
    CMD[$name/watch]="playground gan watch $run --headless --max-frames $GAN_WATCH_FRAMES --record $(q "$WORK/videos/$run.mp4")"
}

define_checks() {
    STEPS[coverage]="registries"
    NOTE[coverage]="every algorithm and GAN model of the registries has a check here"
    CMD[coverage/registries]="python -c <the registries' names>"

    # RL: a few steps, an evaluation game at the end of train and of resume, 1 game of rl eval, a short video.
    # DQN: a small replay memory (the Atari presets ask for 1M transitions, about 7 GB) and an early start.
    local dqn_cuda="--steps 1024 --envs 2 --set buffer_size=10000 --set learning_starts=256 --eval-every 1024"
    local dqn_cpu="--steps 128 --envs 1 --set buffer_size=1000 --set learning_starts=32 --set batch_size=16 --set train_freq=4 --set gradient_steps=1 --eval-every 128"
    rl_check ppo ppo \
        "--steps 512 --envs 4 --set n_steps=64 --set batch_size=128 --set n_epochs=2 --eval-every 512" \
        "--steps 64 --envs 1 --set n_steps=32 --set batch_size=32 --set n_epochs=1 --eval-every 64" 1024 128
    rl_check a2c a2c "--steps 512 --envs 4 --eval-every 512" "--steps 64 --envs 1 --set n_steps=8 --eval-every 64" 1024 128
    rl_check dqn dqn "$dqn_cuda" "$dqn_cpu" 2048 256 "the preset made for the env: nature on Atari"
    rl_check dqn-rainbow dqn "--preset rainbow $dqn_cuda" "--preset rainbow $dqn_cpu" 2048 256 \
        "rainbow preset: noisy, dueling, distributional, prioritized, 3-step"
    rl_check a3c a3c "--steps 512 --envs 2 --eval-every 512" "--steps 64 --envs 2 --eval-every 64" 1024 128 \
        "trains in CPU worker processes whatever the device; eval acts on the device"
    rl_check sb3-dqn sb3-dqn "${dqn_cuda/--envs 2 /}" "${dqn_cpu/--envs 1 /}" 2048 256 "stable-baselines3's DQN"

    # GANs: built-in data only (digits, mnist-5k, atari:Pong, edges2atari:Pong, textures are made locally).
    local tiny="--batch-size 8 --set ngf=8 --set ndf=8"
    gan_check dcgan dcgan "digits --batch-size 64" "digits $tiny"
    gan_check dcgan-wgan-gp dcgan "atari:Pong --preset wgan-gp --image-size 64 --batch-size 32" \
        "atari:Pong --preset wgan-gp --image-size 32 $tiny --set n_critic=2" "wgan-gp preset, 64x64 colour frames"
    gan_check cdcgan cdcgan "mnist-5k --batch-size 64" "digits $tiny"
    gan_check infogan infogan "mnist-5k --batch-size 64" "digits --batch-size 8 --set width=8"
    gan_check wgan wgan "digits --batch-size 64" "digits $tiny" "weight clipping"
    gan_check wgan-gp wgan "digits --preset gp --batch-size 64" "digits --preset gp $tiny --set n_critic=2" \
        "gp preset: gradient penalty"
    gan_check pix2pix pix2pix "edges2atari:Pong --image-size 64 --batch-size 4" \
        "edges2atari:Pong --image-size 32 --batch-size 2 --set ngf=8 --set ndf=8"
    gan_check cyclegan cyclegan "textures --image-size 64" "textures --image-size 32 --set ngf=8 --set ndf=8 --set n_blocks=1"

    STEPS[bench]="bench"
    NOTE[bench]="the quick benchmarks of every suite on the device (about 2 minutes on a 2-core CPU)"
    CMD[bench/bench]="playground bench all --quick --device $DEVICE --out $(q "$WORK/bench-quick.md")"
}

ALL_CHECKS=(coverage "${RL_CHECKS[@]}" "${GAN_CHECKS[@]}" bench)

# The work folder: PLAYGROUND_HOME (runs, checkpoints), logs, videos, samples and the bench figures.
if [ "$LIST" = 1 ]; then
    # shellcheck disable=SC2016  # --list shows the folder's name, not a path that does not exist yet
    WORK='$WORK'
else
    WORK=
fi

selected() {  # is check $1 picked by --only (every check when --only is empty)?
    [ -z "$ONLY" ] && return 0
    local name
    local IFS=,
    for name in $ONLY; do
        [ "$name" = "$1" ] && return 0
    done
    return 1
}

check_only() {  # every name in --only is a check or a tabular algorithm
    [ -z "$ONLY" ] && return 0
    local name known
    local IFS=,
    for name in $ONLY; do
        known=0
        for c in "${ALL_CHECKS[@]}" "${TABULAR[@]}"; do [ "$c" = "$name" ] && known=1; done
        [ "$known" = 1 ] || die "unknown check '$name' in --only; the checks are: ${ALL_CHECKS[*]}."
    done
}
check_only

TABULAR_WHY="tabular: runs on the CPU only (NumPy tables), nothing to prove on CUDA"
tabular_line() {
    echo "$1  -- skipped, $TABULAR_WHY"
}

if [ "$LIST" = 1 ]; then
    define_checks
    echo "Checks on $DEVICE (RL on $RL_ENV; \$WORK is a new temporary folder, PLAYGROUND_HOME=\$WORK/home):"
    for check in "${ALL_CHECKS[@]}"; do
        selected "$check" || continue
        echo "$check  -- ${NOTE[$check]}"
        for step in ${STEPS[$check]}; do
            printf '    %-10s %s\n' "$step" "${CMD[$check/$step]}"
        done
    done
    for algo in "${TABULAR[@]}"; do
        selected "$algo" && tabular_line "$algo"
    done
    exit 0
fi

# -- the playground command -----------------------------------------------------------------------------------
if [ -n "${GPU_CHECK_PLAYGROUND:-}" ]; then
    PG=$GPU_CHECK_PLAYGROUND
elif [ -x "$REPO/.venv/bin/playground" ]; then
    PG=$REPO/.venv/bin/playground
elif command -v playground >/dev/null 2>&1; then
    PG=$(command -v playground)
else
    echo "gpu_check: no playground command: neither $REPO/.venv/bin/playground nor one on PATH (run 'make install')." >&2
    exit 1
fi
# The Python beside it (a venv's console script sits next to its python), else the repository's, else python3.
PY=$(dirname -- "$PG")/python
[ -x "$PY" ] || PY=$REPO/.venv/bin/python
[ -x "$PY" ] || PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "gpu_check: no python found beside $PG." >&2; exit 1; }

# -- is there a CUDA device? ---------------------------------------------------------------------------------
ON=$DEVICE
if [ "$MODE" = cuda ]; then
    # One question to PyTorch: "True|<GPU> - torch <version> CUDA <version>", or "False|".
    answer=$("$PY" -c 'import torch
cuda = torch.cuda.is_available()
print(cuda, f"{torch.cuda.get_device_name(0)} - torch {torch.__version__} CUDA {torch.version.cuda}" if cuda else "", sep="|")' \
        2>&1 | tail -n 1)
    case ${answer%%|*} in
        True)
            ON="$DEVICE (${answer#*|})" ;;
        False)
            echo "No CUDA device is available (torch.cuda.is_available() is False), so the CUDA checks are skipped."
            exit 0 ;;
        *)
            echo "gpu_check: could not ask PyTorch for a CUDA device with $PY: $answer" >&2
            exit 1 ;;
    esac
fi

# -- run ------------------------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX") || { echo "gpu_check: cannot make a temporary folder." >&2; exit 1; }
OWN_HOME=0
if [ -z "$HOME_DIR" ]; then
    HOME_DIR=$WORK/home
    OWN_HOME=1
fi
mkdir -p "$HOME_DIR" "$WORK/logs" "$WORK/videos" "$WORK/samples"
define_checks

export PLAYGROUND_HOME=$HOME_DIR
export PLAYGROUND_ATARI_FRAMES=$ATARI_FRAMES
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy MPLBACKEND=Agg
unset PLAYGROUND_DB PLAYGROUND_LANG   # the throwaway SQLite store beside the home; English sentences

now() {
    if [ -n "${EPOCHREALTIME:-}" ]; then echo "${EPOCHREALTIME/,/.}"; else date +%s.%N; fi
}

ROWS=()      # "check<TAB>step<TAB>result<TAB>seconds<TAB>note"
FAILED=0     # steps that failed, or could not run because the training before them failed
FORMAT='%-16s %-10s %-8s %8s  %s\n'

row() {  # CHECK STEP RESULT SECONDS [NOTE]; result: ok, failed, not-run (its train failed), skipped (by design)
    ROWS+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"${5:-}")
    case $3 in failed|not-run) FAILED=$((FAILED + 1)) ;; esac
    # shellcheck disable=SC2059  # the format is ours
    printf "$FORMAT" "$1" "$2" "$3" "$4" "${5:-}"
}

seconds_since() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

coverage() {  # every registered algorithm and GAN model has a check (or is a tabular one, skipped)
    local names expected missing=() name found c
    names=$("$PY" -c 'import agents, gans; print(" ".join(agents.names())); print(" ".join(gans.names()))') || return 1
    expected=" ${RL_CHECKS[*]} ${GAN_CHECKS[*]} ${TABULAR[*]} "
    for name in $names; do
        found=0
        for c in $expected; do [ "$c" = "$name" ] && found=1; done
        [ "$found" = 1 ] || missing+=("$name")
    done
    echo "registered: $(echo "$names" | tr '\n' ' ')"
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "no check in scripts/gpu_check.sh for: ${missing[*]}"
        return 1
    fi
}

run_step() {  # CHECK STEP: run its command with its log; 0 when it went well
    local check=$1 step=$2 log="$WORK/logs/$1-$2.log" cmd=${CMD[$1/$2]} limit=$STEP_TIMEOUT
    local -a words
    [ "$check" = bench ] && limit=$((STEP_TIMEOUT * 2))  # every suite, one after another
    if [ "$check" = coverage ]; then
        coverage >"$log" 2>&1
        return
    fi
    eval "words=($cmd)"
    words[0]=$PG
    echo "\$ $cmd" >"$log"
    local rc=0
    if command -v timeout >/dev/null 2>&1; then
        timeout --kill-after=10 "$limit" "${words[@]}" >>"$log" 2>&1 </dev/null || rc=$?
    else
        "${words[@]}" >>"$log" 2>&1 </dev/null || rc=$?
    fi
    case $rc in
        0) ;;
        124|137) echo "(stopped: it took more than $limit s; --step-timeout sets the limit)" >>"$log"; return 1 ;;
        *) echo "(exit status $rc)" >>"$log"; return 1 ;;
    esac
    case $step in
        train|resume)  # --json: the run as it ended; it must have finished (not stopped, not failed)
            grep -q '"status": "finished"' "$log" || { echo "(the run did not finish)" >>"$log"; return 1; } ;;
    esac
}

trap 'echo; echo "gpu_check: interrupted; what it made is in $WORK."; exit 130' INT TERM
START=$(now)
echo "gpu_check: on $ON with $PG; PLAYGROUND_HOME=$HOME_DIR; logs in $WORK/logs"
for check in "${ALL_CHECKS[@]}"; do
    selected "$check" || continue
    broken=
    for step in ${STEPS[$check]}; do
        if [ -n "$broken" ]; then  # not proven: the table is complete, and the status will not be 0
            row "$check" "$step" not-run 0.0 "$broken failed"
            continue
        fi
        t0=$(now)
        if run_step "$check" "$step"; then
            row "$check" "$step" ok "$(seconds_since "$t0")"
        else
            row "$check" "$step" failed "$(seconds_since "$t0")" "log: $WORK/logs/$check-$step.log"
            tail -n 15 "$WORK/logs/$check-$step.log" | sed 's/^/    | /'
            [ "$step" = train ] && broken=train   # nothing to resume, evaluate or watch
        fi
    done
done
for algo in "${TABULAR[@]}"; do
    if selected "$algo"; then row "$algo" - skipped 0.0 "$TABULAR_WHY"; fi
done
TOTAL=$(seconds_since "$START")

# shellcheck disable=SC2059  # the format is ours
{
    echo
    echo "gpu_check results on $DEVICE:"
    printf "$FORMAT" check step result seconds note
    printf "$FORMAT" ---------------- ---------- -------- -------- ----
    for r in "${ROWS[@]}"; do
        IFS=$'\t' read -r c s res secs note <<<"$r"
        printf "$FORMAT" "$c" "$s" "$res" "$secs" "$note"
    done
    printf "$FORMAT" total "" "" "$TOTAL" ""
    echo
}

if [ -f "$WORK/bench-quick.md" ]; then
    echo "bench figures: $WORK/bench-quick.md"
fi
if [ -z "$ONLY" ] && awk -v t="$TOTAL" 'BEGIN { exit !(t > 600) }'; then
    echo "gpu_check: the checks took ${TOTAL} s, more than the 10 minutes they are meant to; the table says where."
fi
if [ "$FAILED" -gt 0 ]; then
    echo "gpu_check: $FAILED of ${#ROWS[@]} steps did not pass on $DEVICE; the logs and the home are kept in $WORK."
    exit 1
fi
if [ "$OWN_HOME" = 1 ] && [ "$KEEP" = 0 ]; then
    rm -rf -- "$HOME_DIR" "$WORK/videos" "$WORK/samples"
    echo "gpu_check: every check passed on $DEVICE in ${TOTAL} s (logs and bench figures kept in $WORK)."
else
    echo "gpu_check: every check passed on $DEVICE in ${TOTAL} s (everything kept in $WORK; home $HOME_DIR)."
fi
exit 0
