// RACK-TLP (RFC 8985): the send log, RACK's update, reordering window and loss detection,
// and TLP's probe timeout. The connection drives them (input.cpp, output.cpp, timers.cpp).
#include "tcp/rack.hpp"

#include <algorithm>
#include <vector>

namespace tern::tcp {

namespace {

// RFC 8985 §6.2 RACK_sent_after: t1 later than t2, or the same instant and a higher end.
bool sent_after(instant t1, seq32 end1, instant t2, seq32 end2) { return t1 > t2 || (t1 == t2 && end1 > end2); }

duration abs_diff(instant a, instant b) { return a > b ? a - b : b - a; }

} // namespace

void send_log::sent(seq32 left, seq32 right, instant now, bool retransmission) {
    if (!(left < right)) return;
    const bool at_end = count_ == 0 || runs_[count_ - 1].right <= left;
    if (!retransmission && at_end) {
        if (count_ > 0) {
            send_run& last = runs_[count_ - 1];
            if (last.right == left && last.at == now && !last.retransmitted) {
                last.right = right; // the same burst
                return;
            }
        }
        if (count_ == max_runs) merge_closest();
        runs_[count_++] = send_run{left, right, now, false};
        return;
    }
    restamp(left, right, now);
}

// [left, right) becomes one run stamped `now`: the runs it overlaps are cut around it.
void send_log::restamp(seq32 left, seq32 right, instant now) {
    std::array<send_run, max_runs + 2> out;
    std::size_t n = 0;
    bool placed = false;
    const send_run fresh{left, right, now, true};
    for (const send_run& r : runs()) {
        if (r.right <= left) {
            out[n++] = r;
            continue;
        }
        if (!placed && right <= r.left) {
            out[n++] = fresh;
            placed = true;
        }
        if (r.left < left) out[n++] = send_run{r.left, left, r.at, r.retransmitted};
        if (!placed && r.left < right) {
            out[n++] = fresh;
            placed = true;
        }
        if (right < r.right) out[n++] = send_run{seq_max(r.left, right), r.right, r.at, r.retransmitted};
    }
    if (!placed) out[n++] = fresh;
    std::copy_n(out.begin(), std::min(n, max_runs), runs_.begin());
    count_ = std::min(n, max_runs);
    // At most two runs more than fit: fold the surplus into its neighbours.
    for (std::size_t extra = max_runs; extra < n; ++extra) {
        merge_closest();
        runs_[count_++] = out[extra];
    }
}

void send_log::acked(seq32 snd_una) {
    std::size_t gone = 0;
    while (gone < count_ && runs_[gone].right <= snd_una) ++gone;
    if (gone > 0) {
        std::copy(runs_.begin() + gone, runs_.begin() + count_, runs_.begin());
        count_ -= gone;
    }
    if (count_ > 0 && runs_[0].left < snd_una) runs_[0].left = snd_una;
}

// The two neighbours sent closest in time become one, stamped with the later instant.
void send_log::merge_closest() {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < count_; ++i)
        if (abs_diff(runs_[i].at, runs_[i + 1].at) < abs_diff(runs_[best].at, runs_[best + 1].at)) best = i;
    send_run& a = runs_[best];
    const send_run& b = runs_[best + 1];
    a.right = b.right;
    a.at = std::max(a.at, b.at);
    a.retransmitted = a.retransmitted || b.retransmitted;
    std::copy(runs_.begin() + best + 2, runs_.begin() + count_, runs_.begin() + best + 1);
    --count_;
}

void rack_state::update(const send_run& run, seq32 end, instant now, bool echo_older) {
    const duration sample = now - run.at;
    // "If Segment.retransmitted is TRUE": the ACK may be for the original (its echo is
    // older than the retransmission, or it came back faster than any round trip seen; a
    // state made for this flight may have seen none yet).
    if (run.retransmitted && (echo_older || (min_rtt != duration::max() && sample < min_rtt))) return;
    min_rtt = std::min(min_rtt, sample);
    if (delivered_any && !sent_after(run.at, end, xmit_ts, end_seq)) return;
    rtt = sample;
    xmit_ts = run.at;
    end_seq = end;
    delivered_any = true;
}

void rack_state::note_delivered_end(seq32 end, bool retransmitted) {
    if (end > fack) fack = end;
    else if (end < fack && !retransmitted) reordering_seen = true;
}

duration rack_state::reo_wnd(bool dsack, bool recovering, bool dupthresh_sacked, seq32 snd_una, seq32 snd_nxt,
                             maybe_duration srtt) {
    if (dsack_round && *dsack_round <= snd_una) dsack_round.reset();
    if (!dsack_round && dsack) {
        dsack_round = snd_nxt;
        if (reo_wnd_mult < 0xff) ++reo_wnd_mult;
        reo_wnd_persist = reo_wnd_persist_rounds;
    }
    if (!reordering_seen && (recovering || dupthresh_sacked)) return duration::zero();
    const duration base = min_rtt != duration::max() ? min_rtt : srtt.value_or(duration::zero());
    const duration wnd = reo_wnd_mult * base / 4;
    return srtt ? std::min(wnd, *srtt) : wnd;
}

void rack_state::recovery_ended() {
    if (reo_wnd_persist > 0 && --reo_wnd_persist == 0) reo_wnd_mult = 1;
}

rack_verdict rack_state::detect(const sack_scoreboard& sacked, instant now, duration reo_wnd) const {
    rack_verdict v;
    if (!delivered_any) return v;
    bool prefix = true; // every un-SACKed octet so far was lost
    for (const send_run& run : log.runs()) {
        for (auto h = sacked.next_hole(run.left, run.right); h; h = sacked.next_hole(h->right, run.right)) {
            if (!sent_after(xmit_ts, end_seq, run.at, h->right)) {
                prefix = false;
                continue;
            }
            const duration remaining = run.at + rtt + reo_wnd - now;
            if (remaining > duration::zero()) {
                v.wait = std::max(v.wait.value_or(duration::zero()), remaining);
                prefix = false;
            } else if (prefix) {
                v.lost_end = h->right;
                if (run.retransmitted && !v.lost_retransmit) v.lost_retransmit = h->left;
            }
        }
    }
    return v;
}


} // namespace tern::tcp
