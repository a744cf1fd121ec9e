# Varnish with the xkey module (Debian: varnish-modules) in front of
#   strata serve --shared-cache-ttl 1h --purge http://127.0.0.1:6081/
# Pages are kept until the channel flips: Strata tags them (xkey: strata-channel-<name>
# strata-release-<id>) and, on a flip, sends `PURGE /` with `xkey-purge: strata-channel-<name>`,
# which drops every page of that channel at once. Tested by Tests/e2e/preview_cdn_e2e.py.
vcl 4.1;

import xkey;

backend strata {
    .host = "127.0.0.1";
    .port = "8080";
}

# Who may purge: the Strata servers (serve nodes), never the public.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE" || req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (!req.http.xkey-purge) {
            return (synth(400, "xkey-purge header missing"));
        }
        if (req.method == "BAN") {
            # The same, as a ban (lurker-friendly: it tests the stored object's own header).
            ban("obj.http.xkey ~ (^|\s)" + req.http.xkey-purge + "($|\s)");
            return (synth(200, "Banned"));
        }
        set req.http.n-gone = xkey.purge(req.http.xkey-purge);
        return (synth(200, "Invalidated " + req.http.n-gone + " objects"));
    }
}

sub vcl_deliver {
    # The tags are for the cache; browsers need not see them.
    unset resp.http.xkey;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
