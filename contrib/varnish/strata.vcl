# Varnish in front of `strata serve --shared-cache-ttl 10s`, with Varnish's stock behaviour
# (builtin.vcl): pages are kept for the s-maxage Strata sends, hash-named files for a year.
# Nothing purges them, so after a flip the old pages stay up to that long: keep the TTL short, or
# use strata-xkey.vcl with --purge. Tested by Tests/e2e/preview_cdn_e2e.py.
vcl 4.1;

backend strata {
    .host = "127.0.0.1";
    .port = "8080";
}

sub vcl_deliver {
    # For looking: HIT when the answer came from the cache.
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
