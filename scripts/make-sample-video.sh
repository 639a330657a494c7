#!/usr/bin/env bash
# make-sample-video.sh writes internal/web/media/sample.webm: the video the gateway serves so a party
# works without the internet. 30 seconds of 640x360 VP9 at 25 frames a second, no sound, showing
# the position (seconds with tenths) and the frame number in large digits plus a bar that fills
# with time, so a person or a test can read where the player is. Under 1 MiB.
#
# Needs Debian's ffmpeg (with libvpx and libfreetype) and the DejaVu fonts:
#   apt-get install -y ffmpeg fonts-dejavu-core
# The result is committed; nothing needs ffmpeg at run time. Re-run only to change the video.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=internal/web/media/sample.webm
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf
SECONDS_LONG=30
command -v ffmpeg >/dev/null || { echo "make-sample-video: ffmpeg is missing (apt-get install -y ffmpeg)" >&2; exit 1; }
[[ -r "$FONT" ]] || { echo "make-sample-video: $FONT is missing (apt-get install -y fonts-dejavu-core)" >&2; exit 1; }

# Background: a dark gradient; a bar across the bottom fills as time passes. Text: the position
# mm:ss.t, the frame number, and a label.
filter="[0:v][1:v]overlay=x=-W+W*t/${SECONDS_LONG}:y=H-16:eval=frame,\
drawtext=fontfile=${FONT}:text='%{eif\:floor(t/60)\:d\:2}\:%{eif\:mod(floor(t)\,60)\:d\:2}.%{eif\:mod(floor(t*10)\,10)\:d}':\
fontsize=96:fontcolor=white:x=(w-text_w)/2:y=(h-text_h)/2-30,\
drawtext=fontfile=${FONT}:text='frame %{frame_num}':fontsize=32:fontcolor=0xc8cbe0:x=(w-text_w)/2:y=h/2+50,\
drawtext=fontfile=${FONT}:text='watchparty sample':fontsize=20:fontcolor=0x9aa1b2:x=20:y=20"

mkdir -p "$(dirname "$OUT")"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "gradients=size=640x360:rate=25:duration=${SECONDS_LONG}:c0=0x141826:c1=0x232a44:speed=0.01" \
  -f lavfi -i "color=c=0x6d5dfc:size=640x16:rate=25:duration=${SECONDS_LONG}" \
  -filter_complex "$filter" -c:v libvpx-vp9 -b:v 0 -crf 45 -deadline good -cpu-used 4 -row-mt 1 \
  -g 50 -pix_fmt yuv420p -an "$OUT"
size=$(stat -c %s "$OUT")
echo "make-sample-video: wrote $OUT ($size bytes)"
(( size < 1048576 )) || { echo "make-sample-video: $OUT is over 1 MiB" >&2; exit 1; }
