#!/usr/bin/python3
"""fakeapi - an in-memory fake of the factuursturen.nl REST API (v1) for factuurfs tests.

Python 3.11 standard library only.  Run:

    /usr/bin/python3 tests/fakeapi/fakeapi.py --port 0 [--data FILE | --generate clients=N,invoices=M,products=K]

Once listening it prints exactly `fakeapi listening on http://127.0.0.1:PORT/api/v1/`.
See `--help` for every option.  The API it implements is docs/API.md's reading.

HTTPS: `--tls-cert PEM [--tls-key PEM]` serves TLS on the same port (API and control
endpoints alike) and the line says `https://`.  The handshake runs in the connection's
own thread.  tests/harness.py makes a self-signed certificate for 127.0.0.1 (Fake(tls=True)).
Handshakes are counted, as a browser-like client should make few of them: every TLS
connection gets a serial number (1, 2, ...; from 1 again after a restart), and every
logged request on it carries `"conn": N`; the first logged request of a connection also
carries `"tls": "full"` (a full handshake) or `"tls": "resumed"` (the client offered a
session of an earlier connection and the server took it: OpenSSL's `session_reused`).
GET /_fake/status counts every handshake that completed, with or without a request
(control calls included): `"tls": {"full": F, "resumed": R}`.  Resumption works with the
server context's defaults: TLS 1.3 session tickets (two per full handshake, stateless,
valid for 2 hours) and, for TLS 1.2 clients, tickets and OpenSSL's server session cache.
Binding reuses the address (SO_REUSEADDR), so a restarted fake gets its old `--port` at
once; if the port is taken it says `fakeapi: cannot listen on ...` on stderr, exit 2.

DATA FILE FORMAT (--data FILE, also what --dump FILE writes)
-------------------------------------------------------------
One JSON object (UTF-8).  Every key is optional:

    {
      "clients":           [ <client wire record>, ... ],
      "products":          [ <product wire record>, ... ],
      "invoices":          [ <invoice wire record>, ... ],
      "invoices_saved":    [ <saved invoice record>, ... ],
      "invoices_repeated": [ <repeated invoice record>, ... ],
      "profiles":          [ {"id": "1", "name": "Standaard", "default": "1"}, ... ],
      "taxes":             [ {"percentage": "21", "type": "H", "default": "1", "country": "146"}, ... ],
      "countrylist":       [ {"id": "146", "name": "Nederland", "name_en": "Netherlands"}, ... ],
      "balance":           { "balance": "125.40", ... },
      "quotations":        [ <quotation wire record>, ... ],
      "categories":        [ {"id": "1", "name": "Omzet diensten", "ledger": "8000"}, ... ]
    }

Records are in the API's wire form (see "Wire form" below), but loading is lenient:
missing fields get their defaults, scalars given as JSON numbers/booleans are converted
to wire strings ("12", "0"/"1"), invoice `lines` may be a list.  Missing lookup
collections (profiles, taxes, countrylist, balance) get the built-in defaults.
`countrylist` entries may carry `name_en` (and `name_de`, `name_fr`, `name_es`), served by
`countrylist/en` (/de, /fr, /es; stripped from every response); a language an entry lacks
gives its `name`.  `categories` missing gets the built-in ones; `[]` is none.  Identity is `clientnr` (clients), `invoicenr` (invoices), `id` (the rest).

Wire form
---------
Scalars are strings ("clientnr":"42", "price":"10.92"), booleans "0"/"1", empty dates "",
empty objects [] (reference, lines, taxes, history).  By default the fake serves records
as those captured from the live service show them: invoices without `date` (dated by
`sent`, "" when never sent, and by `history` events {"date","time","description"}; one
generated invoice in 23 was never sent), drafts with read-only `name`, `alreadypaid`,
`alreadypaidmethod` and `datesaved`, quotations with `profile_name` and `category_name`,
and clients in the 2015 capture's forms (--wire-forms live2015: php's underscore names,
"true"/"false" beside "0"/"1").  The other readings are switches: --invoice-date,
--wire-forms net (or any WIRE_FORMS), --payment-method, --draft-send-field,
--missing-one-lists, --reminder-method, --bare-one, --wrapped-lists, ... (see WIRE).  Invoice lines are an object keyed
line1.. whose values hold real JSON numbers; taxes keyed tax1.. ({rate,sum,sum_of} as
numbers); history keyed item1.. ({date,time,description} strings).  Responses are
encoded like PHP's json_encode defaults: compact, non-ASCII as \\uXXXX, "/" as "\\/".

tests/data/demo.json was made with
    fakeapi.py --generate clients=12,invoices=25,products=10 --seed 17 --dump tests/data/demo.json
(--generate without --seed uses seed 1; no --data/--generate = the same sizes, seed 1).
Generated records are made in wire form and skip the normalising of a data file, so big
accounts start fast: products=100000 in ~1 s, invoices=100000 in ~7 s (was 14 s); a page
of 10,000 takes ~0.03 s CPU to serve (products, 1.3 MB) or ~0.3 s (invoices, 15 MB).

Control endpoints (no auth, no rate limit, not logged) live under /_fake/:
    GET  /_fake/state/<collection>          stored wire records (balance: the object)
    PUT  /_fake/state/<collection>/<id>     store a record as given (behind the client's back):
                                            any JSON object, served as stored by lists, GET
                                            one and invoices_pdf (missing fields, wrong types,
                                            ids with '/' or '%' in the %-escaped path)
    DELETE /_fake/state/<collection>/<id>   remove a record behind the client's back
    GET  /_fake/pdf/<escaped invoicenr>     the PDF bytes the API would serve
    GET  /_fake/quotation_pdf/<id>          the PDF bytes of a quotation
    PUT  /_fake/pdfsize/<escaped invoicenr> {"bytes": N}: from now on that invoice's PDF is
                                            padded to N bytes (exactly, give or take the odd
                                            digit), still valid (pdfinfo); 0 = unpadded.
                                            Padding is an unreferenced stream object; a 50 MB
                                            PDF takes ~0.2 s and is cached.  Kept by reset.
    GET  /_fake/dump                        the account as a data file (tests/harness.py
                                            restarts a fake with it)
    GET  /_fake/status                      {"remaining": n, "requests": n, "faults": [...],
                                            "tls": {"full": F, "resumed": R}, ...}
    POST /_fake/inject                      faults, latency and budget (below)
    POST /_fake/reset                       reset rate-limit budget, injected faults and latency
                                            (a hung request is answered at once)

POST /_fake/inject takes one object; every key is optional:
    "latency_ms": N            every API request waits N ms first (replaces --latency-ms)
    "ratelimit_remaining": N   set the hourly budget left (the window restarts)
    "<kind>": {"count": 1, "path_prefix": "", ...}
A fault acts on the next `count` API requests whose path (query included, e.g.
"/api/v1/invoices_pdf/") starts with `path_prefix` (and, with "method": "POST", of that
method only); it is used up only by requests it acts on.  One fault per kind is pending (a new one replaces it); kinds are independent, so
several may be pending at once (see FAULT_KINDS for the order they act in).  Every request
is logged (--log) whatever its fault, with the status sent; drop and cut log status 0.
Each log line also holds the X-RateLimit-Remaining sent ("remaining", after this call).
POST and PUT lines also hold the request body as text ("body"; bodies up to 64 KiB).
--wire-forms serves records in the other forms the live service has used (WIRE_FORMS).
    "spike":     {"ms": 1000}  that many ms of latency on top of latency_ms
    "ratelimit": {"status": 403, "retry_after": S, "headers": {}}  answered like a spent
                 hourly budget (status default WIRE["ratelimit_status"]; 429 allowed):
                 X-RateLimit-Remaining: 0, the plain-text body, Retry-After: S if given.
                 Spends no call: the real budget is as it was.  Checked before auth.
    "hang":      {"seconds": 30}  accepted, then no answer until then or /_fake/reset
                 (then answered normally); other requests are served meanwhile
    "drop":      the connection is closed without an answer (log: status 0, bytes 0)
    "cut":       the real answer's status line and headers (full Content-Length), the
                 first half of the body, then the connection is closed; JSON and PDFs
                 alike; the request itself was carried out (log: status 0, bytes sent).
                 A response without a body arrives whole.
    "fail":      {"status": 500, "body": "Internal Server Error", "headers": {}}  that
                 answer instead of the real one, before auth; headers are added (e.g.
                 {"Retry-After": "1"}; an X-RateLimit-Remaining there replaces the real one)
    "malformed": a 200 whose body is the real one (GET) cut in half, with a matching
                 Content-Length: broken JSON, on invoices_pdf a truncated PDF
    "latin1":    the next `count` JSON responses carry U+0080..U+00FF as raw ISO-8859-1
                 bytes instead of \\u00XX (invalid UTF-8, as a server with a Latin-1
                 database connection sends); other characters stay \\u-escaped
Of drop, cut, fail, malformed, redirect, trickle, stall_body and length, the first
pending for a path (in that order) acts.

A misbehaving upstream (a proxy, a maintenance page, a captive portal, a load balancer
that gives up) is these faults with "after": whether the request is carried out first.
"after": false answers (or fails) without touching the account; "after": true carries
the request out (a POST makes its record) and only then gives the bad answer, so a
client cannot tell from the answer whether the service acted.  Defaults: false for hang,
drop, fail and redirect (as above), true for cut, trickle, stall_body and length, whose
shaped answer is then the real one; with "after": false they shape the fault's own
answer ("status", "body", "ctype").  Also:
    "fail":       "ctype" (default "text/plain; charset=utf-8") sets its Content-Type:
                  {"status": 200, "ctype": "text/html", "body": "<!DOCTYPE html>...",
                  "after": true} is a maintenance page after the POST made its record
    "hang":       "after": true: carried out, then no answer until then or a reset,
                  then the real answer (a hang after acting)
    "drop":       "after": true: carried out, then closed without an answer (a reset
                  after sending)
    "redirect":   {"status": 302, "location": "http://127.0.0.1:9/elsewhere"}  that
                  redirect (a short HTML body) instead of the answer
    "trickle":    {"bytes": 1, "ms": 200}  the status line and headers, then the body
                  `bytes` at a time, each after `ms`: never silent for long, as slow as
                  asked in total (the rest goes at once on /_fake/reset)
    "stall_body": {"seconds": 30}  the status line and headers (full Content-Length),
                  then nothing until then or /_fake/reset, then the body
    "length":     {"announce": N}  a Content-Length of N (default: the body's length
                  plus 100, at least 1), the body, then the connection closed: a body
                  shorter than announced; a huge N is an absurd announced size
The log says status 0 for an answer cut short (cut, length) as for drop.
"""

import argparse
import base64
import copy
import datetime
import hashlib
import json
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
import traceback
import unicodedata
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdf as pdfgen  # noqa: E402

# ---------------------------------------------------------------------------------------
# WIRE CHOICES
# Readings of the spec that the sources do not settle.  Each is the likeliest reading;
# the comment names the alternatives a client must also tolerate.  Command-line options
# override the ones marked (option).
# ---------------------------------------------------------------------------------------
WIRE = {
    # Status when the hourly call budget is spent (always with X-RateLimit-Remaining: 0
    # and a plain-text body).  403: net TransientExceptionHandler.  Alternative: 429.
    "ratelimit_status": 403,
    # Calls per hour (option --rate-limit).  Real limit unknown.  The window is a fixed
    # hour that starts with the first request; every API request (401/404 included) spends one.
    "rate_limit": 500,
    # The length of that hour in seconds (option --hour-seconds, for tests only: a pace of
    # N calls per hour is tested in seconds, with factuurfs run under the same
    # FACTUURFS_HOUR_SECONDS).  No X-RateLimit-Reset header: no source names one.
    "hour_seconds": 3600.0,
    # Success status of every POST (clients, products, invoices, quotations, payments,
    # reminders, drafts sent): 201, as a client written against the live service
    # checks (rb fs_api base_service.rb).  Alternative: 200 (every client accepts any 2xx).
    "created_status": 201,
    # Success of PUT, DELETE and payments: 200 with an empty body.  Alternative: 204, or
    # a body no client reads.
    "ok_status": 200,
    # Records per list when the request has no `count` (option --page-size).  A public
    # script says 100.  Alternatives: unpaged (whole collection), kt's 20.
    "page_size": 100,
    # An explicit count=C is honoured up to this (option --max-count); larger counts are
    # clamped.  Alternative: 400 for a too-large count.
    "max_count": 10000,
    # Option --ignore-count: the server ignores `count` and always pages at page_size.
    "ignore_count": False,
    # A listing of invoices carries each invoice whole, its `lines` included (what the
    # public clients' code reads from it; likeliest).  Option --list-without-lines:
    # listed invoices lack `lines`, which only GET invoices/<nr> gives.
    "list_lines": True,
    # The paging parameter the service honours (option --paging start|offset|both|none).
    # "start": the official v1 documentation (its old PDF) names `count` and `start`, and
    # the service's own pages are likelier than a third-party client: kt sends `offset`,
    # but its captured answer is one page, no sign that `offset` was honoured.
    # Alternatives: "offset" (kt), "both" (offset wins when both are given), "none" (the
    # service ignores both: every page is the first).  A parameter not honoured is
    # ignored, as PHP ignores any query parameter it does not read.
    # Paging applies to every list, after filters.  List order: ascending id/clientnr
    # (invoices: ascending internal id = creation order).  Alternative: newest first.
    "offset_params": ("start",),
    # count=-1 (option --count-minus-one all|ignored): "all", the whole list in one
    # answer (one public script, written against the live service, asks count=-1 for
    # everything); "ignored": taken as no count (a page of page_size).  Any other
    # negative count is a 400.
    "count_minus_one": "all",
    # search/{area}/{field|all}/{query} (the search page of the official docs).  Areas:
    # SEARCH_AREAS.  Readings, none on the page: the query matches a field when it is a
    # case-insensitive substring of the field's value as the wire has it (decimals with a
    # dot: "23.95"); `all` matches any top-level scalar field; a field the area's records
    # do not have is a 400; the query is one %-escaped path segment (a raw '/' in it, as
    # a client that escapes nothing sends, is kept as part of the query).  The answer is
    # the matching records as a listing has them (lines as --list-without-lines says,
    # dressed as --wire-forms says), unpaged.  No match (option --search-empty list|404):
    # "list", an empty list `[]` (the page says the answer is a list); alternative
    # "404", a plain-text 404.
    "search_empty": "list",
    # Unknown fields in POST/PUT bodies: "ignore" (silently dropped, PHP style; likeliest).
    # Alternative "reject": 400 naming them (option --strict-fields).  Read-only fields
    # of the record type (clientnr, timestamp, lastinvoice, priceintax, ...) are always
    # accepted and ignored.
    "unknown_fields": "ignore",
    # PUT of a record that omits optional fields: they keep their stored values (merge).
    # Alternative: reset to defaults (true "whole record" replace).  Required fields
    # (clients: company or contact; products: code, name, price) must be present.
    "put_missing": "keep",
    # Empty nested objects (reference, lines, taxes, history) are emitted as [] (PHP
    # json_encode of an empty array).  A reference whose three lines are empty is [].
    "empty_object": [],
    # Invoice taxes {rate,sum,sum_of} are real JSON numbers like line values.
    # Alternative: strings.
    "taxes_numbers": True,
    # Money fields are "%.2f" strings ("10.92"); percentages/discounts compact ("5.5", "0").
    "money_format": "%.2f",
    # POST invoices action=save|repeat answers the new invoices_saved/_repeated id as
    # plain text (like action=send answers the invoice number).
    # GET one on list-only collections (profiles/1, taxes/x, balance/x): 404.
    # Methods a collection does not allow (PUT invoices, POST taxes): 405 + Allow header.
    # Invoice list filter by client: parameter `clientnr` (changelog 1.0.3 names none).
    "client_filter_param": "clientnr",
    # Invoice filters (net InvoiceFilters).  Definitions used here:
    #   open: open > 0 and not uncollectible;  overdue: open and duedate < today;
    #   sent: sent date set, nothing paid yet (open == totalintax) and not uncollectible;
    #   partly: 0 < open < totalintax;  toomuch: open < 0;  paid: open == 0 and not
    #   uncollectible;  uncollectible: uncollectible date set.
    "filters": ("open", "overdue", "sent", "partly", "toomuch", "paid", "uncollectible"),
    # Payments (option --payment-method post|put|both): POST invoices_payment/<id or
    # invoicenr> (the official payment page), or with the invoicenr in the body (php);
    # PUT invoices_payment/<invoicenr> is py v0's older reading.  The method refused
    # answers 405.  `date` (YYYY-MM-DD) is required, `amount` a number as text ("12.50";
    # a JSON number is taken too) or "full" (what is open), `method` optional.  Success:
    # created_status (POST) or ok_status (PUT), with an empty body.
    "payment_methods": ("POST",),
    # Invoices carry no `date` (none of the captured live records has one): they are
    # dated by `sent` ("" when never sent) and their `history` events.  Option
    # --invoice-date: every invoice made also carries `date` (the older reading).
    "invoice_date": False,
    # POST invoices_saved sends drafts (the saved-invoices page).  Which body field names
    # them is not on the readable page (option --draft-send-field): "id" (likeliest, as
    # every other call names a record), "invoicenr", or "ids" (a list).  The draft
    # becomes an invoice with a new invoicenr (as action send) and leaves invoices_saved;
    # `sendmethod` is optional (default: the client's).  Answers created_status with the
    # new invoice numbers as plain text, one a line.
    "draft_send_field": "id",
    # GET of one record that does not exist (option --missing-one-lists): 404, or the
    # whole list with 200, as rb fs_api says the live service may answer.
    "missing_one_lists": False,
    # The product note field (changelog 1.0.3) has no known name: this fake calls it
    # "notes" (as clients'), and serves it only on a product that has one.
    "product_note_field": "notes",
    # New invoices (POST, any action) default paymentperiod to the client's `top` and the
    # discount to the client's `stddiscount` (as a percentage) unless the body sets them.
    # Action send numbers the invoice "<this year>-NNNN" (next free number of the year).
    # Saved and repeated invoices share one id sequence (both answer under key
    # "invoices_saved").
    # The 403 for a spent budget is checked before authentication and before faults.
    # Quotations: POST (uncertain: the official quotation page has no POST row, though it
    # marks `action` required) answers the new id as a bare number (as clients and products);
    # action send|save (send needs sendmethod); PUT merges as for clients.
    # The quotation PDF's path is in no source (option --quotation-pdf-path): our guess
    # "quotations_pdf/{id}" by analogy with invoices_pdf; alternatives
    # "quotations/{id}/pdf" and "quotation_pdf/{id}".  The paths not chosen answer 404.
    "quotation_pdf_path": "quotations_pdf/{id}",
    # A reminder (option --reminder-method put|post|both): PUT invoices_reminder/<nr>
    # (as payments) or POST invoices_reminder with invoicenr in the body; both accepted by
    # default; the one refused answers 405.  Sets the invoice's lastreminder to today.
    "reminder_methods": ("PUT", "POST"),
    # GET one wraps the record in its singular name (option --bare-one: the bare record,
    # net's reading for clients/products).
    "one_wrapped": True,
    # GET list answers a top-level array (option --wrapped-lists: {"<collection>": [...]}).
    "list_wrapped": False,
    # countrylist/<lang> (option --no-countrylist-lang: only countrylist, 404 for /<lang>).
    "countrylist_lang": True,
    # The forms records are served in (option --wire-forms, a comma list of WIRE_FORMS
    # or WIRE_PRESETS names; "net": none, the forms above with the .NET spelling).
    # Default: the 2015 capture's (live2015).  Stored records stay in the forms above;
    # each answer is dressed on its way out, and input takes every form (aliases,
    # "true"/"false", numbers) as before.
    "wire_forms": ("underscore", "truefalse"),
}

# The forms the live service has been seen to send (docs/API.md, "Values on the wire"),
# each a switch of --wire-forms.  The fields each one touches are data:
#   underscore   the five client fields php spells with underscores (CLIENT_ALIASES)
#   truefalse    client booleans as "true"/"false"; default_email and invoice
#                `collection` stay "0"/"1" (as the 2015 copies have them)
#   native       every int/float/money scalar as a JSON number, every bool as JSON
#                true/false (json_encode of typed values)
#   zerodates    empty dates as "0000-00-00" (MySQL's zero date)
#   linestrings  invoice line values as strings ("4", "21"), the other reading
WIRE_FORMS = ("underscore", "truefalse", "native", "zerodates", "linestrings")
WIRE_PRESETS = {
    # What a third public client keeps as copied from the live service (2015):
    # underscores, "true"/"false" beside "0"/"1", "" for no date, JSON numbers in lines.
    "live2015": ("underscore", "truefalse"),
    # None of the forms: the .NET client's spelling, "0"/"1" for every boolean.
    "net": (),
}
TRUEFALSE_FIELDS = {"clients": ("showcontact", "tax_shifted", "notes_on_invoice", "active")}

SENDMETHODS = ("mail", "email", "printcenter")
REALM = "factuursturen"

# ---------------------------------------------------------------------------------------
# Data dictionary (wire types)
# ---------------------------------------------------------------------------------------
CLIENT_FIELDS = [
    ("clientnr", "int"), ("contact", "str"), ("showcontact", "bool"), ("company", "str"),
    ("address", "str"), ("address_addon", "str"), ("addon", "str"), ("zipcode", "str"),
    ("city", "str"), ("country", "str"),
    ("phone", "str"), ("mobile", "str"), ("email", "str"), ("bankcode", "str"),
    ("biccode", "str"), ("taxnumber", "str"), ("tax_shifted", "bool"), ("sendmethod", "str"),
    ("paymentmethod", "str"), ("top", "int"), ("stddiscount", "float"), ("mailintro", "str"),
    ("reference", "ref"), ("notes", "str"), ("notes_on_invoice", "bool"), ("active", "bool"),
    ("default_email", "int"), ("email_reminder", "str"), ("defaultdoclang", "str"),
    ("defaultcategory", "str"), ("currency", "str"), ("mandateid", "str"),
    ("mandatedate", "str"), ("collecttype", "str"), ("taxtype", "str"),
    ("lastinvoice", "date"), ("timestamp", "date"),
]
CLIENT_READONLY = {"clientnr", "lastinvoice", "timestamp"}
CLIENT_ALIASES = {"default_doclang": "defaultdoclang", "default_category": "defaultcategory",
                  "mandate_id": "mandateid", "mandate_date": "mandatedate",
                  "tax_type": "taxtype"}
CLIENT_DEFAULTS = {"country": "146", "active": "1", "top": "14", "sendmethod": "email",
                   "paymentmethod": "bank", "defaultdoclang": "nl", "currency": "EUR",
                   "default_email": "0", "stddiscount": "0", "taxtype": "extax"}

PRODUCT_FIELDS = [("id", "int"), ("code", "str"), ("name", "str"), ("price", "money"),
                  ("taxes", "int"), ("priceintax", "money")]
PRODUCT_READONLY = {"id", "priceintax"}
# Invoice fields a record may lack: `date` (see WIRE["invoice_date"]).
INVOICE_OPTIONAL = ("date",)
PRODUCT_DEFAULTS = {"taxes": "21"}

INVOICE_FIELDS = [
    ("id", "int"), ("invoicenr", "str"), ("invoicenr_full", "str"), ("clientnr", "int"),
    ("reference", "ref"), ("profile", "int"), ("discounttype", "str"), ("discount", "float"),
    ("paymentcondition", "str"), ("paymentperiod", "int"), ("collection", "bool"),
    ("tax", "money"), ("totalintax", "money"),
    ("company", "str"), ("contact", "str"), ("address", "str"), ("zipcode", "str"),
    ("city", "str"), ("country", "str"), ("phone", "str"), ("mobile", "str"),
    ("email", "str"), ("taxnumber", "str"), ("invoicenote", "str"), ("date", "date"),
    ("sent", "date"), ("uncollectible", "date"), ("lastreminder", "date"), ("open", "money"),
    ("paiddate", "date"), ("duedate", "date"), ("lines", "lines"), ("taxes", "taxes"),
    ("payment_url", "str"), ("history", "history"), ("tax_type", "str"),
    ("language", "str"), ("tax_shifted", "bool"), ("category", "str"),
]
INVOICE_DEFAULTS = {"profile": "1", "discounttype": "amount", "discount": "0",
                    "paymentperiod": "14", "collection": "0", "country": "146",
                    "tax_type": "extax", "language": "nl", "tax_shifted": "0",
                    "tax": "0.00", "totalintax": "0.00", "open": "0.00", "category": ""}
CLIENT_COPY = ["company", "contact", "address", "zipcode", "city", "country", "phone",
               "mobile", "email", "taxnumber"]
# Fields a POST invoices body may set (besides clientnr, lines and the action fields).
INVOICE_POST_FIELDS = [("reference", "ref"), ("profile", "int"), ("discounttype", "str"),
                       ("discount", "float"), ("paymentcondition", "str"),
                       ("paymentperiod", "int"), ("collection", "bool"),
                       ("invoicenote", "str"), ("language", "str"), ("category", "str")]
INVOICE_POST_ACTION = [("clientnr", "int"), ("lines", "lines"), ("action", "str"),
                       ("sendmethod", "str"), ("savename", "str"),
                       ("overwrite_if_exist", "bool"), ("convert_prices_to_euro", "bool"),
                       ("initialdate", "date"), ("finalsenddate", "date"),
                       ("frequency", "str"), ("repeattype", "str")]

# The saved-invoices page: read-only `name` (the draft's unique name, set by savename),
# `alreadypaid` (amount already marked paid) and `alreadypaidmethod`; `datesaved`.
SAVED_FIELDS = [
    ("id", "int"), ("savename", "str"), ("name", "str"), ("profile", "int"), ("clientnr", "int"),
    ("reference", "ref"), ("discounttype", "str"), ("discount", "float"),
    ("totaldiscount", "money"), ("paymentcondition", "str"), ("paymentperiod", "int"),
    ("collection", "bool"), ("tax", "money"), ("totalintax", "money"),
    ("company", "str"), ("contact", "str"), ("address", "str"), ("zipcode", "str"),
    ("city", "str"), ("country", "str"), ("email", "str"), ("invoicenote", "str"),
    ("lines", "lines"), ("taxes", "taxes"), ("language", "str"), ("alreadypaid", "money"),
    ("alreadypaidmethod", "str"), ("datesaved", "date"),
]
REPEATED_EXTRA = [("initialdate", "date"), ("nextsenddate", "date"),
                  ("finalsenddate", "date"), ("frequency", "str"), ("repeattype", "str")]
REPEATED_FIELDS = SAVED_FIELDS + REPEATED_EXTRA
SAVED_DEFAULTS = dict(INVOICE_DEFAULTS, totaldiscount="0.00", alreadypaid="0.00")
LINE_FIELDS = ["amount", "amount_desc", "description", "tax_rate", "price", "discount_pct",
               "linetotal"]
# Line fields a request may carry that are never stored nor served: `tax_country`, the
# country of a foreign VAT rate for that line (the quotation page: input only).
LINE_INPUT_ONLY = ("tax_country",)

# Quotations (php Models/Quotation.php; the official quotation page).
QUOTATION_FIELDS = [
    ("id", "int"), ("clientnr", "int"), ("reference", "ref"), ("quotationreference", "str"),
    ("profile", "int"), ("category", "str"), ("discounttype", "str"), ("discount", "float"),
    ("paymentcondition", "str"), ("quotationperiod", "int"), ("showtotals", "bool"),
    ("date", "date"), ("notes", "str"), ("customstatus", "str"), ("approved", "bool"),
    ("company", "str"), ("contact", "str"), ("lines", "lines"), ("taxes", "taxes"),
    ("tax", "money"), ("totalintax", "money"), ("profile_name", "str"),
    ("category_name", "str"),
]
# profile_name and category_name: read-only names of its profile and category (the
# official quotation page).
QUOTATION_READONLY = {"id", "company", "contact", "taxes", "tax", "totalintax",
                      "profile_name", "category_name"}
QUOTATION_DEFAULTS = {"profile": "1", "discounttype": "amount", "discount": "0",
                      "quotationperiod": "30", "showtotals": "1", "approved": "0",
                      "tax": "0.00", "totalintax": "0.00"}
QUOTATION_ACTION = [("action", "str"), ("sendmethod", "str"), ("savename", "str"),
                    ("overwrite_if_exist", "bool"), ("convert_prices_to_euro", "bool")]
# Categories: ledger is a general-ledger account code (text: "0840" keeps its 0).
DEFAULT_CATEGORIES = [{"id": "1", "name": "Omzet diensten", "ledger": "8000"},
                      {"id": "2", "name": "Omzet producten", "ledger": "8010"},
                      {"id": "3", "name": "Omzet buitenland", "ledger": "8100"},
                      {"id": "4", "name": "Overige opbrengsten", "ledger": "0840"}]
# Where a quotation's PDF may be: WIRE["quotation_pdf_path"] is served, the others 404.
QUOTATION_PDF_PATHS = ("quotations_pdf/{id}", "quotations/{id}/pdf", "quotation_pdf/{id}")


FIELD_KINDS = {"clients": dict(CLIENT_FIELDS), "products": dict(PRODUCT_FIELDS),
               "invoices": dict(INVOICE_FIELDS), "invoices_saved": dict(SAVED_FIELDS),
               "invoices_repeated": dict(REPEATED_FIELDS)}


def parse_wire_forms(spec):
    """--wire-forms "live2015,native" -> a tuple of WIRE_FORMS names (ValueError if unknown)."""
    out = []
    for name in (s.strip() for s in (spec or "").split(",")):
        if not name:
            continue
        if name in WIRE_PRESETS:
            out.extend(WIRE_PRESETS[name])
        elif name in WIRE_FORMS:
            out.append(name)
        else:
            raise ValueError("unknown wire form %r (known: %s)" % (
                name, ", ".join(WIRE_FORMS + tuple(WIRE_PRESETS))))
    return tuple(dict.fromkeys(out))


def dress(coll, rec, forms):
    """Stored wire record -> the record as served under --wire-forms (a new dict)."""
    if not forms or not isinstance(rec, dict) or coll not in FIELD_KINDS:
        return rec
    kinds = FIELD_KINDS[coll]
    rename = {v: k for k, v in CLIENT_ALIASES.items()} if coll == "clients" and "underscore" in forms else {}
    out = {}
    for k, v in rec.items():
        kind = kinds.get(k)
        if "truefalse" in forms and k in TRUEFALSE_FIELDS.get(coll, ()) and v in ("0", "1"):
            v = "true" if v == "1" else "false"
        elif "native" in forms and isinstance(v, str) and kind in ("int", "float", "money") and v != "":
            try:
                v = int(v) if kind == "int" else float(v)
            except ValueError:
                pass
        elif "native" in forms and kind == "bool" and v in ("0", "1"):
            v = v == "1"
        if "zerodates" in forms and kind == "date" and v == "":
            v = "0000-00-00"
        if "linestrings" in forms and kind == "lines" and isinstance(v, dict):
            v = {lk: {fk: (compact(fv) if isinstance(fv, (int, float)) and not isinstance(fv, bool) else fv)
                      for fk, fv in ln.items()} if isinstance(ln, dict) else ln
                 for lk, ln in v.items()}
        out[rename.get(k, k)] = v
    return out


# collection -> (allowed (method, has_id) pairs)
ROUTES = {
    "clients": {("GET", False), ("GET", True), ("POST", False), ("PUT", True), ("DELETE", True)},
    "products": {("GET", False), ("GET", True), ("POST", False), ("PUT", True), ("DELETE", True)},
    "invoices": {("GET", False), ("GET", True), ("POST", False), ("DELETE", True)},
    "invoices_pdf": {("GET", True)},
    "invoices_saved": {("GET", False), ("GET", True), ("POST", False), ("DELETE", True)},
    "invoices_repeated": {("GET", False), ("GET", True), ("DELETE", True)},
    # POST with the id in the path or the body; PUT (py v0): set by --payment-method.
    "invoices_payment": {("POST", True), ("POST", False)},
    "profiles": {("GET", False)},
    "taxes": {("GET", False)},
    "countrylist": {("GET", False), ("GET", True)},
    "balance": {("GET", False)},
    "quotations": {("GET", False), ("GET", True), ("POST", False), ("PUT", True), ("DELETE", True)},
    "categories": {("GET", False)},
    "invoices_reminder": {("PUT", True), ("POST", False)},
    "search": {("GET", True)},
}
SINGULAR = {"clients": "client", "products": "product", "invoices": "invoice",
            "invoices_saved": "invoices_saved", "invoices_repeated": "invoices_saved",
            "quotations": "quotation"}
KEYFIELD = {"clients": "clientnr", "products": "id", "invoices": "invoicenr",
            "invoices_saved": "id", "invoices_repeated": "id", "profiles": "id",
            "taxes": "type", "countrylist": "id", "quotations": "id", "categories": "id"}
COLLECTIONS = ["clients", "products", "invoices", "invoices_saved", "invoices_repeated",
               "profiles", "taxes", "countrylist", "balance", "quotations", "categories"]
# search/<area>/...: the areas the search page names, with the fields each may be
# searched on (the area's data dictionary).
SEARCH_AREAS = {"invoices": INVOICE_FIELDS, "invoices_saved": SAVED_FIELDS,
                "invoices_repeated": REPEATED_FIELDS, "clients": CLIENT_FIELDS,
                "products": PRODUCT_FIELDS}


class BadInput(Exception):
    """400 with a plain-text message."""


class NotFound(Exception):
    """404 with a plain-text message."""


# ---------------------------------------------------------------------------------------
# Encoding helpers
# ---------------------------------------------------------------------------------------
def php_json(obj):
    """Encode like PHP json_encode defaults: compact, \\uXXXX for non-ASCII, \\/ for /."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def money(x):
    s = WIRE["money_format"] % (round(float(x) + 0.0, 2) + 0.0)
    return "0.00" if s == "-0.00" else s


def compact(x):
    v = float(x)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(round(v, 6))


def jnum(x):
    """A real JSON number for line/tax values: int when integral."""
    v = round(float(x), 4)
    return int(v) if v == int(v) and abs(v) < 1e15 else v


_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _numeric(name, value, integer):
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool):
        raise BadInput("Field '%s' must be %s" % (name, kind))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise BadInput("Field '%s' must be %s" % (name, kind))
        if integer and value != int(value):
            raise BadInput("Field '%s' must be %s" % (name, kind))
        return int(value) if integer else value
    if isinstance(value, str):
        s = value.strip()
        if integer and _INT_RE.match(s):
            return int(s)
        if not integer and _FLOAT_RE.match(s):
            return float(s)
        if integer and _FLOAT_RE.match(s) and float(s) == int(float(s)):
            return int(float(s))
    raise BadInput("Field '%s' must be %s" % (name, kind))


def wire_value(name, kind, value):
    """Validate one input value and return its wire form.  None means the default."""
    if kind == "str":
        if isinstance(value, (dict, list)):
            raise BadInput("Field '%s' must be a string" % name)
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return compact(value)
        return "" if value is None else str(value)
    if kind == "int":
        return str(_numeric(name, value, True))
    if kind == "float":
        return compact(_numeric(name, value, False))
    if kind == "money":
        return money(_numeric(name, value, False))
    if kind == "bool":
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, (int, float)) and value in (0, 1):
            return "1" if value else "0"
        if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
            return "1" if value.strip().lower() in ("1", "true") else "0"
        raise BadInput("Field '%s' must be a boolean (0, 1, true or false)" % name)
    if kind == "date":
        if value is None or value == "":
            return ""
        if isinstance(value, str) and _DATE_RE.match(value.strip()):
            try:
                datetime.date.fromisoformat(value.strip())
                return value.strip()
            except ValueError:
                pass
        raise BadInput("Field '%s' must be a date (YYYY-MM-DD)" % name)
    if kind == "ref":
        return wire_reference(name, value)
    raise AssertionError(kind)


def wire_reference(name, value):
    if value is None or value == "" or value == [] or value == {}:
        return []
    if isinstance(value, list):
        value = {"line%d" % (i + 1): v for i, v in enumerate(value)}
    if not isinstance(value, dict):
        raise BadInput("Field '%s' must be an object with line1, line2, line3" % name)
    out = {}
    for k in ("line1", "line2", "line3"):
        v = value.get(k, "")
        if isinstance(v, (dict, list)):
            raise BadInput("Field '%s[%s]' must be a string" % (name, k))
        out[k] = "" if v is None else str(v)
    extra = set(value) - {"line1", "line2", "line3"}
    if extra and WIRE["unknown_fields"] == "reject":
        raise BadInput("Unknown field '%s[%s]'" % (name, sorted(extra)[0]))
    if not any(out.values()):
        return []
    return out


def default_for(kind, name, defaults):
    if name in defaults:
        return defaults[name]
    return {"str": "", "int": "0", "float": "0", "money": "0.00", "bool": "0", "date": "",
            "ref": [], "lines": [], "taxes": [], "history": []}[kind]


def _ordered_items(value, prefix):
    """Items of a keyed object (line1.., '1'.., '0'..) or a list, in numeric order."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        def key(k):
            m = re.search(r"(\d+)$", str(k))
            return (0, int(m.group(1))) if m else (1, str(k))
        return [value[k] for k in sorted(value, key=key)]
    raise BadInput("Field '%s' must be an object keyed %s1, %s2, ... or a list" % (prefix, prefix, prefix))


def normalize_lines(value, name="lines", compute=True):
    """Input lines -> wire object keyed line1.. with numeric values (linetotal computed)."""
    if value is None or value == "" or value == [] or value == {}:
        return []
    items = _ordered_items(value, "line" if name == "lines" else name)
    out = {}
    for i, ln in enumerate(items, start=1):
        if not isinstance(ln, dict):
            raise BadInput("Field '%s[line%d]' must be an object" % (name, i))
        fname = "%s[line%d]" % (name, i)
        rec = {}
        rec["amount"] = jnum(_numeric(fname + "[amount]", ln.get("amount", 1) if ln.get("amount") not in (None, "") else 1, False))
        rec["amount_desc"] = wire_value(fname + "[amount_desc]", "str", ln.get("amount_desc"))
        rec["description"] = wire_value(fname + "[description]", "str", ln.get("description"))
        rec["tax_rate"] = jnum(_numeric(fname + "[tax_rate]", ln.get("tax_rate") if ln.get("tax_rate") not in (None, "") else 21, False))
        if ln.get("price") in (None, ""):
            raise BadInput("Field '%s[price]' is required" % fname)
        rec["price"] = jnum(_numeric(fname + "[price]", ln.get("price"), False))
        rec["discount_pct"] = jnum(_numeric(fname + "[discount_pct]", ln.get("discount_pct") if ln.get("discount_pct") not in (None, "") else 0, False))
        if compute or ln.get("linetotal") in (None, ""):
            rec["linetotal"] = jnum(round(rec["amount"] * rec["price"] * (1 - rec["discount_pct"] / 100.0), 2))
        else:
            rec["linetotal"] = jnum(_numeric(fname + "[linetotal]", ln["linetotal"], False))
        for k, v in ln.items():
            if k in LINE_INPUT_ONLY:
                wire_value(fname + "[%s]" % k, "str", v)
            elif k not in rec:
                rec[k] = v
        out["line%d" % i] = rec
    return out


def compute_totals(rec):
    """Set taxes, tax, totalintax (and totaldiscount) on an invoice-like record from its lines."""
    lines = rec.get("lines") or {}
    lines = list(lines.values()) if isinstance(lines, dict) else []
    sub = 0.0
    per_rate = {}
    for ln in lines:
        lt = float(ln.get("linetotal", 0))
        sub += lt
        r = float(ln.get("tax_rate", 0))
        per_rate[r] = per_rate.get(r, 0.0) + lt
    disc = float(rec.get("discount") or 0)
    if rec.get("discounttype") == "percentage":
        totaldiscount = sub * disc / 100.0
    else:
        totaldiscount = disc
    factor = (sub - totaldiscount) / sub if sub else 1.0
    taxes = {}
    tax = 0.0
    for i, r in enumerate(sorted((r for r in per_rate if r > 0), reverse=True), start=1):
        sum_of = round(per_rate[r] * factor, 2)
        s = round(sum_of * r / 100.0, 2)
        tax += s
        if WIRE["taxes_numbers"]:
            taxes["tax%d" % i] = {"rate": jnum(r), "sum": jnum(s), "sum_of": jnum(sum_of)}
        else:
            taxes["tax%d" % i] = {"rate": compact(r), "sum": money(s), "sum_of": money(sum_of)}
    rec["taxes"] = taxes or []
    rec["tax"] = money(tax)
    rec["totalintax"] = money(sub - totaldiscount + tax)
    if "totaldiscount" in rec:
        rec["totaldiscount"] = money(totaldiscount)
    return float(rec["totalintax"])


def normalize_record(rec, fields, defaults, strict_types=False, optional=()):
    """Fill defaults and coerce a stored (data file) record into wire form, keeping order
    of the data dictionary and any extra keys at the end; a field in @optional that the
    record lacks stays out."""
    out = {}
    for name, kind in fields:
        if name in optional and name not in rec:
            continue
        v = rec.get(name)
        if kind in ("lines",):
            try:
                out[name] = normalize_lines(v, compute=False) if v not in (None, "", [], {}) else []
            except BadInput:
                if strict_types:
                    raise
                out[name] = v
        elif kind in ("taxes", "history"):
            out[name] = v if isinstance(v, dict) and v else []
        elif v is None:
            out[name] = default_for(kind, name, defaults)
        else:
            try:
                out[name] = wire_value(name, kind, v)
            except BadInput:
                if strict_types:
                    raise
                out[name] = str(v)
    for k, v in rec.items():
        if k not in out:
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------
# Synthetic data
# ---------------------------------------------------------------------------------------
FIRST = ["Jan", "Sanne", "Daan", "Eva", "Noël", "Zoë", "Chloë", "Loïs", "Søren", "René",
         "Jürgen", "Anaïs", "Maëlle", "Björn", "Pieter", "Femke", "Joost", "Lotte", "Bram",
         "Anouk", "Sem", "Isa", "Thijs", "Mila", "Ruben", "Fleur", "Hüseyin", "Esmée",
         "Gijs", "Roos", "Ingrid", "Kees", "Mohamed", "Fatima", "Niels", "Marloes"]
LAST = ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
        "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen",
        "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "Müller", "Çelik",
        "Østergaard", "van Dijk", "Koç", "Janssen", "van der Meer", "Kuipers", "Ñuñez",
        "Verbeek", "Prins", "Huisman", "Schouten", "van Beek", "Willems", "Brandsma"]
TRADES = ["Bakkerij", "Installatiebedrijf", "Schildersbedrijf", "Adviesbureau",
          "Hoveniersbedrijf", "Architectenbureau", "Café", "Fietsenmaker", "Drukkerij",
          "Tandartspraktijk", "Kapsalon", "Timmerbedrijf", "Loodgietersbedrijf",
          "Fotostudio", "Bloemenhuis", "Autobedrijf", "Vertaalbureau", "Brasserie"]
FANCY = ["De Zonnebloem", "Het Anker", "De Gouden Draak", "Crème de la Crème",
         "De Molen", "Noorderlicht", "Het Groene Hart", "Zuidwester", "De Eendracht",
         "Brûlée", "Sint-Joris", "Over 't IJ", "Paddenstoel & Zn.", "Hoogvliet"]
SUFFIX = [" B.V.", " B.V.", " V.O.F.", "", "", " & Zn.", " Holding B.V."]
STREETS = ["Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Prinsengracht",
           "Oudegracht", "Hoofdstraat", "Schoolstraat", "Julianalaan", "Beatrixstraat",
           "Wilhelminaplein", "Lange Voorhout", "Coolsingel", "Marktplein", "Noordeinde",
           "Brinkstraat", "Havenkade", "Kanaalweg", "Parallelweg", "Eikenlaan"]
CITIES = ["Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen",
          "Tilburg", "Almere", "Breda", "Nijmegen", "Haarlem", "Arnhem", "Zwolle",
          "Leeuwarden", "Maastricht", "'s-Hertogenbosch", "Delft", "Leiden", "Gouda",
          "Enschede", "Sneek", "Hoorn", "Deventer", "Middelburg"]
FOREIGN = [("18", "Brussel", "1000"), ("18", "Antwerpen", "2000"), ("50", "Köln", "50667"),
           ("50", "Düsseldorf", "40213"), ("18", "Liège", "4000")]
BANKS = [("ABNA", "ABNANL2A"), ("INGB", "INGBNL2A"), ("RABO", "RABONL2U"),
         ("TRIO", "TRIONL2U"), ("SNSB", "SNSBNL2A"), ("KNAB", "KNABNL2H"), ("BUNQ", "BUNQNL2A")]
PRODUCTS = [("Consultancy per uur", 95.0, 21, "uur"), ("Website onderhoud (maand)", 49.5, 21, "maand"),
            ("Hosting pakket S", 7.95, 21, "maand"), ("Domeinnaam .nl", 12.0, 21, "jaar"),
            ("Installatie ter plaatse", 145.0, 21, "st."), ("Reiskosten per km", 0.23, 0, "km"),
            ("Training (dagdeel)", 450.0, 21, "dagdeel"), ("Licentie Pro", 299.0, 21, "st."),
            ("Koffiebonen 1 kg", 18.75, 9, "kg"), ("Ontwerp logo", 650.0, 21, "st."),
            ("Fotografie (uur)", 85.0, 21, "uur"), ("SSL-certificaat", 39.0, 21, "jaar"),
            ("Support-strippenkaart 10 uur", 850.0, 21, "st."), ("Boek: Ondernemen in de praktijk", 34.95, 9, "st."),
            ("Drukwerk A5 flyers (500 st.)", 89.0, 21, "st."), ("Crème brûlée catering", 6.5, 9, "st."),
            ("Schilderwerk binnen", 42.5, 21, "m²"), ("Snoeiwerk tuin", 55.0, 21, "uur")]
FREE_LINES = [("Meerwerk volgens afspraak", 21), ("Voorrijkosten", 21), ("Materiaal", 21),
              ("Korting i.v.m. vertraging", 21), ("Catering lunch", 9), ("Reiskosten", 0)]
PRODUCT_NOTES = ["Levertijd 2 weken", "Alleen op bestelling", "Prijs per stuk, excl. verzending",
                 "Uit het assortiment per 2026"]
HISTORY = ["Factuur aangemaakt", "Factuur verstuurd per e-mail naar %s", "Factuur bekeken door klant",
           "Herinnering verstuurd", "Betaling ontvangen: %s", "Aanmaning verstuurd"]
# The service's own ids (kt's captured countrylist_response.json: 18 België, 50 Duitsland,
# 146 Nederland): src/model/vat.c's EU table reads the same ids.
COUNTRIES = [("1", "Afghanistan", "Afghanistan"), ("18", "België", "Belgium"),
             ("30", "Bulgarije", "Bulgaria"), ("46", "Denemarken", "Denmark"),
             ("50", "Duitsland", "Germany"), ("56", "Estland", "Estonia"),
             ("62", "Finland", "Finland"), ("63", "Frankrijk", "France"),
             ("73", "Griekenland", "Greece"), ("84", "Hongarije", "Hungary"),
             ("86", "Ierland", "Ireland"), ("93", "Italië", "Italy"),
             ("119", "Luxemburg", "Luxembourg"), ("146", "Nederland", "Netherlands"),
             ("157", "Noorwegen", "Norway"), ("163", "Oostenrijk", "Austria"),
             ("171", "Polen", "Poland"), ("172", "Portugal", "Portugal"),
             ("192", "Spanje", "Spain"), ("215", "Turkije", "Turkey"),
             ("224", "Verenigd Koninkrijk", "United Kingdom"), ("236", "Zweden", "Sweden"),
             ("237", "Zwitserland", "Switzerland")]
DEFAULT_PROFILES = [{"id": "1", "name": "Standaard", "default": "1"},
                    {"id": "2", "name": "Engelstalige factuur", "default": "0"},
                    {"id": "3", "name": "Stichting Café Zoë", "default": "0"}]
DEFAULT_TAXES = [{"percentage": "21", "type": "H", "default": "1", "country": "146"},
                 {"percentage": "9", "type": "L", "default": "0", "country": "146"},
                 {"percentage": "0", "type": "Z", "default": "0", "country": "146"},
                 {"percentage": "0", "type": "N", "default": "0", "country": "146"}]
DEFAULT_BALANCE = {"balance": "125.40", "currency": "EUR", "sms_credits": "50",
                   "printcenter_credits": "12.60", "invoices_this_month": "7",
                   "subscription": "Factuursturen Pro", "lastpayment": "2025-11-01"}


def ascii_fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s) if ord(c) < 128)


def slug(s):
    return re.sub(r"[^a-z0-9]+", "", ascii_fold(s).lower()) or "info"


def parse_generate(spec):
    counts = {"clients": 12, "invoices": 25, "products": 10}
    if spec:
        # quotations=N (default: 2 + invoices // 10)
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            k, _, v = part.partition("=")
            k = k.strip()
            if (k not in counts and k != "quotations") or not v.strip().isdigit():
                raise SystemExit("fakeapi: bad --generate part %r (want clients=N,invoices=M,products=K[,quotations=Q])" % part)
            counts[k] = int(v)
    return counts


def generate(clients=12, invoices=25, products=10, seed=1, quotations=None):
    """A deterministic synthetic account (wire form).  Quotations and categories come
    from a random generator of their own, so the rest is what it was before them."""
    rnd = random.Random(seed)
    d0 = datetime.date(2023, 1, 1).toordinal()
    d1 = datetime.date(2025, 12, 31).toordinal()

    def rdate(lo=d0, hi=d1):
        return datetime.date.fromordinal(rnd.randint(lo, hi)).isoformat()

    # Clients ---------------------------------------------------------------------------
    cl = []
    nr = 0
    for i in range(clients):
        nr += 1 if rnd.random() > 0.1 or i == 0 else 2  # a few gaps (deleted clients)
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        contact = "%s %s" % (first, last)
        r = rnd.random()
        if r < 0.15:
            base = ""  # a private person
        elif r < 0.55:
            base = "%s %s" % (rnd.choice(TRADES), last[0].upper() + last[1:] if last[0].islower() and " " not in last else last)
        else:
            base = "%s %s" % (rnd.choice(TRADES), rnd.choice(FANCY))
        company = (base + rnd.choice(SUFFIX)).strip() if base else ""
        foreign = rnd.random() < 0.08
        if foreign:
            country, city, zipcode = rnd.choice(FOREIGN)
        else:
            country, city = "146", rnd.choice(CITIES)
            zipcode = "%04d %s" % (rnd.randint(1000, 9999), "".join(rnd.choice("ABCDEGHJKLMNPRSTVWXZ") for _ in range(2)))
        bank, bic = rnd.choice(BANKS)
        domain = slug(base or last) + (".be" if country == "18" else ".de" if country == "50" else ".nl")
        email = ("info@" + domain) if company else "%s.%s@%s" % (slug(first), slug(last), rnd.choice(["gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.com"]))
        tax_shifted = "1" if foreign and company else "0"
        refs = []
        if rnd.random() < 0.3:
            refs = {"line1": "Inkoopnummer %d" % rnd.randint(1000, 99999), "line2": "", "line3": ""}
            if rnd.random() < 0.3:
                refs["line2"] = "t.a.v. de crediteurenadministratie"
        c = {
            "clientnr": str(nr), "contact": contact, "showcontact": rnd.choice(["0", "1", "1"]),
            "company": company, "address": "%s %d%s" % (rnd.choice(STREETS), rnd.randint(1, 250), rnd.choice(["", "", "", "a", "-2", " bis"])),
            # (No draw of the generator for these two: what follows stays as it was.)
            "address_addon": "2e verdieping" if nr % 9 == 4 else "",
            "addon": "Afdeling inkoop" if company and nr % 7 == 3 else "",
            "zipcode": zipcode, "city": city, "country": country,
            "phone": "0%d-%07d" % (rnd.randint(10, 79), rnd.randint(0, 9999999)),
            "mobile": ("06-%08d" % rnd.randint(10000000, 99999999)) if rnd.random() < 0.7 else "",
            "email": email,
            "bankcode": "NL%02d%s%010d" % (rnd.randint(10, 99), bank, rnd.randint(0, 9999999999)),
            "biccode": bic,
            "taxnumber": ("NL%09dB%02d" % (rnd.randint(0, 999999999), rnd.randint(1, 3))) if company else "",
            "tax_shifted": tax_shifted, "sendmethod": rnd.choice(["email", "email", "email", "mail"]),
            "paymentmethod": rnd.choice(["bank", "bank", "bank", "autocollect", "cash"]),
            "top": rnd.choice(["14", "14", "30", "30", "8", "60"]),
            "stddiscount": rnd.choice(["0", "0", "0", "0", "2.5", "5"]),
            "mailintro": "Beste %s," % first,
            "reference": refs,
            "notes": rnd.choice(["", "", "Vaste klant sinds 2019", "Let op: factuur per post", "Contactpersoon is parttime (ma-wo)"]),
            "notes_on_invoice": "0", "active": "1" if rnd.random() > 0.08 else "0",
            "default_email": "0", "email_reminder": "", "defaultdoclang": "en" if foreign else "nl",
            "defaultcategory": "", "currency": "EUR", "mandateid": "", "mandatedate": "",
            "collecttype": "", "taxtype": "extax", "lastinvoice": "", "timestamp": rdate(),
        }
        if c["paymentmethod"] == "autocollect":
            c["mandateid"] = "MND-%05d" % nr
            c["mandatedate"] = rdate(d0, d0 + 365)
            c["collecttype"] = "RCUR"
        cl.append(c)

    # Products --------------------------------------------------------------------------
    pr = []
    for i in range(products):
        name, price, tax, unit = PRODUCTS[i % len(PRODUCTS)]
        if i >= len(PRODUCTS):
            name = "%s (variant %d)" % (name, i // len(PRODUCTS) + 1)
            price = round(price * (1 + rnd.randint(-20, 40) / 100.0), 2)
        pr.append({"id": str(i + 1), "code": "ART-%04d" % (i + 1), "name": name,
                   "price": money(price), "taxes": str(tax),
                   "priceintax": money(price * (1 + tax / 100.0)), "_unit": unit})
        # The product note (changelog 1.0.3) on one product of five.
        if i % 5 == 2:
            pr[-1][WIRE["product_note_field"]] = PRODUCT_NOTES[i // 5 % len(PRODUCT_NOTES)]

    # Invoices --------------------------------------------------------------------------
    dates = sorted(rnd.randint(d0, d1) for _ in range(invoices))
    per_year = {}
    inv = []
    specials = ["INV {y}-{n}", "{y}-{n:04d} (credit)", "{y}-{n:04d}+A", "{y}#{n:04d}",
                "{y}-{n:04d}&co", "100%-{y}-{n}", "{y}-{n:04d}-é"]
    today = datetime.date(2025, 12, 31).toordinal()
    for i in range(invoices):
        if not cl:
            break
        d = datetime.date.fromordinal(dates[i])
        per_year[d.year] = per_year.get(d.year, 0) + 1
        n = per_year[d.year]
        if i % 7 == 6:
            invoicenr = "%d/%04d" % (d.year, n)
        elif i % 13 == 9:
            invoicenr = specials[(i // 13) % len(specials)].format(y=d.year, n=n)
        else:
            invoicenr = "%d-%04d" % (d.year, n)
        c = cl[rnd.randrange(len(cl))]
        shifted = c["tax_shifted"] == "1"
        nlines = rnd.randint(1, 5)
        lines = {}
        for j in range(nlines):
            if pr and rnd.random() < 0.75:
                p = pr[rnd.randrange(len(pr))]
                desc, price, rate, unit = p["name"], float(p["price"]), int(p["taxes"]), p["_unit"]
            else:
                desc, rate = rnd.choice(FREE_LINES)
                price, unit = round(rnd.uniform(10, 400), 2), ""
            if shifted:
                rate = 0
            amount = rnd.choice([1, 1, 1, 2, 3, 4, 5, 10]) if unit != "uur" else rnd.choice([0.5, 1, 1.5, 2, 4, 7.5, 8])
            dp = rnd.choice([0, 0, 0, 0, 0, 10])
            lines["line%d" % (j + 1)] = {
                "amount": jnum(amount), "amount_desc": unit, "description": desc,
                "tax_rate": rate, "price": jnum(price), "discount_pct": dp,
                "linetotal": jnum(round(amount * price * (1 - dp / 100.0), 2))}
        period = int(c["top"])
        rec = {
            "id": str(i + 4), "invoicenr": invoicenr, "invoicenr_full": invoicenr,
            "clientnr": c["clientnr"],
            "reference": ({"line1": "Project %s" % rnd.choice(["Herfst", "Verbouwing", "Website", "Jaarcontract", "Q%d" % rnd.randint(1, 4)]), "line2": "", "line3": ""} if rnd.random() < 0.4 else []),
            "profile": rnd.choice(["1", "1", "1", "2", "3"]),
            "discounttype": "amount", "discount": "0",
            "paymentcondition": "Betaling binnen %d dagen" % period, "paymentperiod": str(period),
            "collection": "1" if c["paymentmethod"] == "autocollect" else "0",
            "tax": "0.00", "totalintax": "0.00",
        }
        if rnd.random() < 0.08:
            rec["discounttype"], rec["discount"] = "percentage", rnd.choice(["5", "10", "2.5"])
        for k in CLIENT_COPY:
            rec[k] = c[k]
        rec["invoicenote"] = rnd.choice(["", "", "", "Bedankt voor uw opdracht!", "Levering: week %d" % rnd.randint(1, 52)])
        if WIRE["invoice_date"]:
            rec["date"] = d.isoformat()
        # One invoice of 23 was never sent (printed, handed over): no `sent`, and no
        # "sent" event in its history.
        unsent = i % 23 == 7
        rec["sent"] = "" if unsent else d.isoformat()
        rec["uncollectible"] = ""
        rec["lastreminder"] = ""
        rec["lines"] = lines
        total = compute_totals(rec)
        due = d + datetime.timedelta(days=period)
        rec["duedate"] = due.isoformat()
        r = rnd.random()
        history = [("Factuur aangemaakt", d)] + ([] if unsent else [(HISTORY[1] % c["email"], d)])
        paid, paiddate, openamt = 0.0, "", total
        age = today - d.toordinal()
        if r < 0.05 and age > 90:
            rec["uncollectible"] = (due + datetime.timedelta(days=60)).isoformat()
            rec["lastreminder"] = (due + datetime.timedelta(days=20)).isoformat()
            history.append(("Herinnering verstuurd", due + datetime.timedelta(days=20)))
            history.append(("Factuur oninbaar verklaard", due + datetime.timedelta(days=60)))
        elif r < 0.70 and age > 20:
            pdate = d + datetime.timedelta(days=rnd.randint(1, period + 10))
            paid, paiddate = total, pdate.isoformat()
            history.append(("Betaling ontvangen: %s" % pdfgen._money(total), pdate))
        elif r < 0.80:
            part = round(total * rnd.choice([0.25, 0.5]), 2)
            pdate = d + datetime.timedelta(days=rnd.randint(1, period))
            paid = part
            history.append(("Betaling ontvangen: %s" % pdfgen._money(part), pdate))
        elif r < 0.83 and age > 20:
            pdate = d + datetime.timedelta(days=rnd.randint(1, period))
            paid, paiddate = round(total + rnd.choice([0.5, 10.0]), 2), pdate.isoformat()
            history.append(("Betaling ontvangen: %s" % pdfgen._money(paid), pdate))
        elif age > period + 14 and rnd.random() < 0.5:
            rec["lastreminder"] = (due + datetime.timedelta(days=7)).isoformat()
            history.append(("Herinnering verstuurd", due + datetime.timedelta(days=7)))
        openamt = round(total - paid, 2)
        rec["open"] = money(openamt)
        rec["paiddate"] = paiddate
        rec["duedate"] = due.isoformat()
        rec["payment_url"] = ("https://www.factuursturen.nl/betalen/%s" % hashlib.sha1(invoicenr.encode()).hexdigest()[:16]) if openamt > 0 else ""
        # Some invoices carry no history (e.g. imported ones).
        if rnd.random() < 0.2:
            rec["history"] = []
        else:
            rec["history"] = {"item%d" % (k + 1): {"date": hd.isoformat(), "time": "%02d:%02d" % (9 + k, (i * 7 + k * 13) % 60), "description": desc}
                              for k, (desc, hd) in enumerate(history)}
        rec["tax_type"] = "extax"
        rec["language"] = c["defaultdoclang"]
        rec["tax_shifted"] = c["tax_shifted"]
        # A category (its id) on four invoices of five: the ledger column of exports.
        rec["category"] = ["1", "2", "1", "", "3"][i % 5] if not shifted else "3"
        if d.isoformat() > c["lastinvoice"]:
            c["lastinvoice"] = d.isoformat()
        # In the data dictionary's order, as loading would put it (so it can skip that).
        inv.append({**{n: rec[n] for n, _ in INVOICE_FIELDS if n in rec}, **rec})
    for p in pr:
        del p["_unit"]

    # Saved and repeated invoices -------------------------------------------------------
    saved, repeated = [], []
    sid = 0
    nsaved = (2 + invoices // 50) if cl else 0
    nrep = (2 + invoices // 100) if cl else 0
    names = ["Maandelijkse hosting", "Concept offerte verbouwing", "Onderhoudscontract",
             "Jaarabonnement", "Standaard consultancy", "Kwartaalrapportage", "Licentie verlenging"]
    for k in range(nsaved + nrep):
        sid += 1
        c = cl[rnd.randrange(len(cl))]
        lines = {}
        for j in range(rnd.randint(1, 3)):
            if pr:
                p = pr[rnd.randrange(len(pr))]
                desc, price, rate = p["name"], float(p["price"]), int(p["taxes"])
            else:
                desc, price, rate = "Dienstverlening", 100.0, 21
            lines["line%d" % (j + 1)] = {"amount": 1, "amount_desc": "", "description": desc,
                                         "tax_rate": rate, "price": jnum(price), "discount_pct": 0,
                                         "linetotal": jnum(price)}
        rec = {"id": str(sid), "savename": "%s %s" % (names[k % len(names)], c["company"] or c["contact"]),
               "profile": "1", "clientnr": c["clientnr"], "reference": [],
               "discounttype": "amount", "discount": "0", "totaldiscount": "0.00",
               "paymentcondition": "Betaling binnen %s dagen" % c["top"], "paymentperiod": c["top"],
               "collection": "0", "tax": "0.00", "totalintax": "0.00"}
        for f in ("company", "contact", "address", "zipcode", "city", "country", "email"):
            rec[f] = c[f]
        rec["invoicenote"] = ""
        rec["lines"] = lines
        rec["taxes"] = []
        rec["language"] = c["defaultdoclang"]
        compute_totals(rec)
        rec["name"] = rec["savename"]
        rec["alreadypaid"] = "0.00"
        rec["alreadypaidmethod"] = ""
        if k < nsaved:
            # (No draw of the generator: the records after it stay as they were.)
            rec["datesaved"] = datetime.date.fromordinal(d1 - 11 * k).isoformat()
            saved.append({n: rec[n] for n, _ in SAVED_FIELDS})
        else:
            init = rdate(datetime.date(2024, 1, 1).toordinal(), d1)
            rec["datesaved"] = rdate(d0, datetime.date.fromisoformat(init).toordinal())
            rec["initialdate"] = init
            rec["nextsenddate"] = (datetime.date.fromisoformat(init) + datetime.timedelta(days=30)).isoformat()
            rec["finalsenddate"] = rnd.choice(["", (datetime.date.fromisoformat(init) + datetime.timedelta(days=730)).isoformat()])
            rec["frequency"] = rnd.choice(["monthly", "monthly", "quarterly", "yearly", "weekly"])
            rec["repeattype"] = rnd.choice(["auto", "auto", "manual"])
            repeated.append({n: rec[n] for n, _ in REPEATED_FIELDS})

    return {
        "clients": cl, "products": pr, "invoices": inv, "invoices_saved": saved,
        "invoices_repeated": repeated,
        "profiles": [dict(p) for p in DEFAULT_PROFILES],
        "taxes": [dict(t) for t in DEFAULT_TAXES],
        "countrylist": default_countries(),
        "balance": dict(DEFAULT_BALANCE),
        "quotations": generate_quotations(cl, pr, 2 + invoices // 10 if quotations is None
                                          else quotations, seed),
        "categories": [dict(c) for c in DEFAULT_CATEGORIES],
    }


# Some countries in German, French and Spanish (countrylist/de, /fr, /es).
COUNTRY_NAMES = {"de": {"18": "Belgien", "50": "Deutschland", "63": "Frankreich",
                        "146": "Niederlande", "192": "Spanien"},
                 "fr": {"18": "Belgique", "50": "Allemagne", "63": "France",
                        "146": "Pays-Bas", "192": "Espagne"},
                 "es": {"18": "Bélgica", "50": "Alemania", "63": "Francia",
                        "146": "Países Bajos", "192": "España"}}


def default_countries():
    out = []
    for i, nl, en in COUNTRIES:
        c = {"id": i, "name": nl, "name_en": en}
        for lang, names in COUNTRY_NAMES.items():
            if i in names:
                c["name_" + lang] = names[i]
        out.append(c)
    return out


def generate_quotations(cl, pr, n, seed):
    """@n quotations (wire form) for clients @cl, lines from products @pr."""
    rnd = random.Random(seed * 7919 + 14)
    out = []
    for k in range(n if cl else 0):
        c = cl[rnd.randrange(len(cl))]
        lines = {}
        for j in range(rnd.randint(1, 4)):
            if pr:
                p = pr[rnd.randrange(len(pr))]
                desc, price, rate = p["name"], float(p["price"]), int(p["taxes"])
            else:
                desc, price, rate = "Dienstverlening", 100.0, 21
            amount = rnd.choice([1, 1, 2, 5, 10])
            lines["line%d" % (j + 1)] = {"amount": amount, "amount_desc": "", "description": desc,
                                         "tax_rate": rate, "price": jnum(price), "discount_pct": 0,
                                         "linetotal": jnum(round(amount * price, 2))}
        d = datetime.date(2025, 1, 1) + datetime.timedelta(days=rnd.randint(0, 364))
        q = {"id": str(k + 1), "clientnr": c["clientnr"], "reference": [],
             "quotationreference": "OFF-%d-%03d" % (d.year, k + 1), "profile": "1",
             "category": rnd.choice(["1", "2", ""]), "discounttype": "amount", "discount": "0",
             "paymentcondition": "Geldig tot 30 dagen na dagtekening", "quotationperiod": "30",
             "showtotals": "1", "date": d.isoformat(),
             "notes": rnd.choice(["", "Prijzen exclusief reiskosten"]),
             "customstatus": rnd.choice(["", "", "Wacht op akkoord"]),
             "approved": rnd.choice(["0", "0", "1"]),
             "company": c["company"], "contact": c["contact"], "lines": lines, "taxes": [],
             "tax": "0.00", "totalintax": "0.00"}
        compute_totals(q)
        out.append(q)
    return out


# ---------------------------------------------------------------------------------------
# The account (state) and its API
# ---------------------------------------------------------------------------------------
class Response:
    """drop: close without answering; cut: the headers, then half the body, then close."""
    __slots__ = ("status", "ctype", "body", "headers", "drop", "cut")

    def __init__(self, status, body=b"", ctype="text/plain; charset=utf-8", headers=None, drop=False):
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.status, self.body, self.ctype, self.headers, self.drop = status, body, ctype, headers or {}, drop
        self.cut = False


def text(status, msg, headers=None):
    return Response(status, msg, headers=headers)


def jresp(obj, status=200):
    return Response(status, php_json(obj), "application/json")


def list_resp(coll, recs):
    """A GET list's answer: the array, or wrapped in the collection's name (--wrapped-lists)."""
    return jresp({coll: recs} if WIRE["list_wrapped"] else recs)


def quotation_pdf_route(rest):
    """(pattern, raw id) when API path @rest is one of QUOTATION_PDF_PATHS, else None."""
    for pattern in QUOTATION_PDF_PATHS:
        head, _, tail = pattern.partition("{id}")
        if rest.startswith(head) and rest.endswith(tail) and len(rest) > len(head) + len(tail):
            raw = rest[len(head):len(rest) - len(tail)]
            if "/" not in urllib.parse.unquote(raw) or not tail:
                return pattern, raw
    return None


def ratelimited(status=None, retry_after=None):
    """A spent hourly budget (the caller sends X-RateLimit-Remaining: 0)."""
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return text(status or WIRE["ratelimit_status"],
                "Rate limit exceeded: no API calls left this hour", headers=headers)


# A JSON escape: \u0080..\u00ff (group 1: the byte), or any other escape kept as it is
# (so the "u00e9" of an escaped backslash followed by text is not taken for one).
_JSON_ESCAPE = re.compile(rb"\\(?:u00([89a-f][0-9a-f])|.)", re.S)


def latin1_json(body):
    """PHP-style JSON with U+0080..U+00FF as raw ISO-8859-1 bytes instead of \\u escapes:
    what a server with a Latin-1 database connection sends.  Other escapes stay."""
    return _JSON_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else m.group(0), body)


class Account:
    def __init__(self, data, today=None, wire=False):
        self.lock = threading.RLock()
        self.today_fixed = today
        self.load(data, wire)

    def today(self):
        return self.today_fixed or datetime.date.today()

    def load(self, data, wire=False):
        """wire=True: the records are in wire form already (generate() makes them so),
        which halves the start of a 100,000-invoice account."""
        def keyed(items, key):
            return {str(r.get(key, "")): r for r in items}

        def norm(items, fields, defaults, optional=()):
            return items if wire else (normalize_record(r, fields, defaults, optional=optional)
                                       for r in items)
        self.clients = keyed(norm(data.get("clients", []), CLIENT_FIELDS, CLIENT_DEFAULTS), "clientnr")
        self.products = keyed(norm(data.get("products", []), PRODUCT_FIELDS, PRODUCT_DEFAULTS), "id")
        self.invoices = keyed(norm(data.get("invoices", []), INVOICE_FIELDS, INVOICE_DEFAULTS,
                                   INVOICE_OPTIONAL), "invoicenr")
        self.saved = keyed(norm(data.get("invoices_saved", []), SAVED_FIELDS, SAVED_DEFAULTS), "id")
        self.repeated = keyed(norm(data.get("invoices_repeated", []), REPEATED_FIELDS, SAVED_DEFAULTS), "id")
        self.profiles = [dict(p) for p in data.get("profiles") or DEFAULT_PROFILES]
        self.taxes = [dict(t) for t in data.get("taxes") or DEFAULT_TAXES]
        self.countries = [dict(c) for c in data.get("countrylist") or default_countries()]
        self.balance = dict(data.get("balance") or DEFAULT_BALANCE)
        self.quotations = keyed(norm(data.get("quotations", []), QUOTATION_FIELDS, QUOTATION_DEFAULTS), "id")
        # [] is an account without categories; no key at all, the built-in ones.
        self.categories = [dict(c) for c in data.get("categories", DEFAULT_CATEGORIES)]
        for q in self.quotations.values():
            self.quotation_names(q)
        self._sort()

        def maxint(values):
            m = 0
            for v in values:
                try:
                    m = max(m, int(v))
                except (TypeError, ValueError):
                    pass
            return m
        self.next_client = maxint(self.clients) + 1
        self.next_product = maxint(self.products) + 1
        self.next_invoice_id = maxint(r["id"] for r in self.invoices.values()) + 1
        self.next_saved = maxint(list(self.saved) + list(self.repeated)) + 1
        self.next_quotation = maxint(self.quotations) + 1

    def _sort(self):
        def numkey(k):
            try:
                return (0, int(k), "")
            except ValueError:
                return (1, 0, k)
        self.clients = dict(sorted(self.clients.items(), key=lambda kv: numkey(kv[0])))
        self.products = dict(sorted(self.products.items(), key=lambda kv: numkey(kv[0])))
        self.invoices = dict(sorted(self.invoices.items(), key=lambda kv: numkey(kv[1].get("id", "0"))))
        self.saved = dict(sorted(self.saved.items(), key=lambda kv: numkey(kv[0])))
        self.repeated = dict(sorted(self.repeated.items(), key=lambda kv: numkey(kv[0])))
        self.quotations = dict(sorted(self.quotations.items(), key=lambda kv: numkey(kv[0])))

    def table(self, coll):
        return {"clients": self.clients, "products": self.products, "invoices": self.invoices,
                "invoices_saved": self.saved, "invoices_repeated": self.repeated,
                "quotations": self.quotations}.get(coll)

    def records(self, coll, lang=None):
        if coll in ("clients", "products", "invoices", "invoices_saved", "invoices_repeated",
                    "quotations"):
            return list(self.table(coll).values())
        if coll == "categories":
            return list(self.categories)
        if coll == "profiles":
            return list(self.profiles)
        if coll == "taxes":
            return list(self.taxes)
        if coll == "countrylist":
            out = []
            for c in self.countries:
                name = c.get("name_" + (lang or "").lower()) or c.get("name", "")
                out.append({"id": c.get("id", ""), "name": name})
            return out
        if coll == "balance":
            return self.balance
        return None

    def dump(self):
        with self.lock:
            return {"clients": list(self.clients.values()), "products": list(self.products.values()),
                    "invoices": list(self.invoices.values()),
                    "invoices_saved": list(self.saved.values()),
                    "invoices_repeated": list(self.repeated.values()),
                    "profiles": self.profiles, "taxes": self.taxes,
                    "countrylist": self.countries, "balance": self.balance,
                    "quotations": list(self.quotations.values()),
                    "categories": self.categories}

    # -- helpers -----------------------------------------------------------------------
    def find(self, coll, ident):
        """Find a record by one of several candidate decodings of a path id."""
        tbl = self.table(coll)
        for cand in ident:
            if cand in tbl:
                return cand, tbl[cand]
            if coll != "invoices":
                try:
                    c2 = str(int(cand))
                    if c2 in tbl:
                        return c2, tbl[c2]
                except ValueError:
                    pass
        raise NotFound("%s %s not found" % (SINGULAR.get(coll, coll).capitalize(), ident[0]))

    def check_fields(self, body, fields, extra_known=()):
        known = {f for f, _ in fields} | set(extra_known)
        unknown = [k for k in body if k not in known]
        if unknown and WIRE["unknown_fields"] == "reject":
            raise BadInput("Unknown field%s %s" % ("s" if len(unknown) > 1 else "",
                                                     ", ".join("'%s'" % k for k in unknown)))

    # -- clients -------------------------------------------------------------------------
    def client_input(self, body, base):
        body = dict(body)
        for php, net in CLIENT_ALIASES.items():
            if php in body:
                v = body.pop(php)
                body.setdefault(net, v)
        self.check_fields(body, CLIENT_FIELDS)
        rec = dict(base)
        for name, kind in CLIENT_FIELDS:
            if name in CLIENT_READONLY or name not in body:
                if name not in rec:
                    rec[name] = default_for(kind, name, CLIENT_DEFAULTS)
                continue
            v = body[name]
            rec[name] = default_for(kind, name, CLIENT_DEFAULTS) if v is None else wire_value(name, kind, v)
        rec["country"] = self.country_id(rec.get("country", ""))
        if not rec.get("company") and not rec.get("contact"):
            raise BadInput("Field 'company' or 'contact' is required")
        if not body.get("company") and not body.get("contact"):
            raise BadInput("Field 'company' or 'contact' is required")
        return rec

    def country_id(self, value):
        """A client's country as stored: an id as it is, a name (in any language of the
        country list, case and accents as written) looked up: the clients page says a
        name may be sent ("we'll then try to find the id")."""
        v = (value or "").strip()
        if v == "" or _INT_RE.match(v):
            return v
        for c in self.countries:
            if any(isinstance(n, str) and n.casefold() == v.casefold()
                   for k, n in c.items() if k == "name" or k.startswith("name_")):
                return str(c.get("id", ""))
        raise BadInput("Field 'country': no country named '%s'" % v)

    def post_client(self, body):
        rec = self.client_input(body, {})
        nr = str(self.next_client)
        self.next_client += 1
        rec["clientnr"] = nr
        rec["lastinvoice"] = ""
        rec["timestamp"] = self.today().isoformat()
        self.clients[nr] = {n: rec[n] for n, _ in CLIENT_FIELDS}
        return int(nr)

    def put_client(self, ident, body):
        key, old = self.find("clients", ident)
        base = dict(old) if WIRE["put_missing"] == "keep" else {k: old[k] for k in CLIENT_READONLY}
        rec = self.client_input(body, base)
        rec["clientnr"] = key
        rec["timestamp"] = self.today().isoformat()
        self.clients[key] = rec

    # -- products ------------------------------------------------------------------------
    def product_input(self, body, base):
        note = WIRE["product_note_field"]
        self.check_fields(body, PRODUCT_FIELDS, extra_known=(note,))
        for req in ("code", "name", "price"):
            if body.get(req) in (None, ""):
                raise BadInput("Field '%s' is required" % req)
        rec = dict(base)
        for name, kind in PRODUCT_FIELDS:
            if name in PRODUCT_READONLY or name not in body:
                if name not in rec:
                    rec[name] = default_for(kind, name, PRODUCT_DEFAULTS)
                continue
            v = body[name]
            rec[name] = default_for(kind, name, PRODUCT_DEFAULTS) if v is None else wire_value(name, kind, v)
        rec["priceintax"] = money(float(rec["price"]) * (1 + int(rec["taxes"]) / 100.0))
        if note in body:
            rec[note] = wire_value(note, "str", body[note])
        if not rec.get(note):
            rec.pop(note, None)  # served only on a product that has one
        return rec

    def post_product(self, body):
        rec = self.product_input(body, {})
        pid = str(self.next_product)
        self.next_product += 1
        rec["id"] = pid
        self.products[pid] = {n: rec[n] for n, _ in PRODUCT_FIELDS}
        if rec.get(WIRE["product_note_field"]):
            self.products[pid][WIRE["product_note_field"]] = rec[WIRE["product_note_field"]]
        return int(pid)

    def put_product(self, ident, body):
        key, old = self.find("products", ident)
        base = dict(old) if WIRE["put_missing"] == "keep" else {"id": key}
        rec = self.product_input(body, base)
        rec["id"] = key
        self.products[key] = rec

    # -- invoices ------------------------------------------------------------------------
    def next_invoicenr(self):
        year = self.today().year
        pat = re.compile(r"^%d[-/]0*(\d+)$" % year)
        n = 0
        for nr in self.invoices:
            m = pat.match(nr)
            if m:
                n = max(n, int(m.group(1)))
        while True:
            n += 1
            nr = "%d-%04d" % (year, n)
            if nr not in self.invoices:
                return nr

    def send_invoice(self, client, rec, lines, sm):
        """A new invoice for @client from the fields @rec (INVOICE_POST_FIELDS), @lines
        (wire) and send method @sm, sent today: its number."""
        today = self.today()
        clientnr = client["clientnr"]
        nr = self.next_invoicenr()
        inv = {"id": str(self.next_invoice_id), "invoicenr": nr, "invoicenr_full": nr,
               "clientnr": clientnr, "reference": rec["reference"], "profile": rec["profile"],
               "discounttype": rec["discounttype"], "discount": rec["discount"],
               "paymentcondition": rec["paymentcondition"], "paymentperiod": rec["paymentperiod"],
               "collection": rec["collection"], "tax": "0.00", "totalintax": "0.00"}
        self.next_invoice_id += 1
        for f in CLIENT_COPY:
            inv[f] = client.get(f, "")
        inv["invoicenote"] = rec["invoicenote"]
        if WIRE["invoice_date"]:
            inv["date"] = today.isoformat()
        inv["sent"] = today.isoformat()
        inv["uncollectible"] = ""
        inv["lastreminder"] = ""
        inv["lines"] = lines
        if client.get("tax_shifted") == "1":
            for ln in lines.values():
                ln["tax_rate"] = 0
        total = compute_totals(inv)
        inv["open"] = money(total)
        inv["paiddate"] = ""
        inv["duedate"] = (today + datetime.timedelta(days=int(rec["paymentperiod"] or 0))).isoformat()
        inv["payment_url"] = "https://www.factuursturen.nl/betalen/%s" % hashlib.sha1(nr.encode()).hexdigest()[:16]
        how = {"mail": "per post", "email": "per e-mail naar %s" % client.get("email", ""),
               "printcenter": "via het printcenter"}[sm]
        inv["history"] = {"item1": {"date": today.isoformat(), "time": time.strftime("%H:%M"),
                                    "description": "Factuur aangemaakt en verstuurd %s" % how}}
        inv["tax_type"] = "extax"
        inv["language"] = rec["language"]
        inv["tax_shifted"] = client.get("tax_shifted", "0")
        inv["category"] = rec["category"]
        inv = {n: inv[n] for n, _ in INVOICE_FIELDS if n in inv}
        self.invoices[nr] = inv
        client["lastinvoice"] = today.isoformat()
        return nr

    def send_drafts(self, body):
        """POST invoices_saved: the drafts the body names (WIRE["draft_send_field"])
        become invoices, sent today, and leave invoices_saved.  Their numbers."""
        field = WIRE["draft_send_field"]
        v = body.get(field)
        if field == "ids":
            if not isinstance(v, list) or not v:
                raise BadInput("Field 'ids' must be a list of draft ids")
            ids = v
        else:
            if v in (None, "") or isinstance(v, (dict, list)):
                raise BadInput("Field '%s' is required" % field)
            ids = [v]
        sm = body.get("sendmethod")
        if sm not in (None, "") and sm not in SENDMETHODS:
            raise BadInput("Field 'sendmethod' must be one of mail, email, printcenter")
        drafts = []
        for i in ids:
            if isinstance(i, (dict, list, bool)):
                raise BadInput("Field '%s' must name drafts by their id" % field)
            key, d = self.find("invoices_saved", id_candidates(str(i)))
            client = self.clients.get(d.get("clientnr"))
            if client is None:
                raise BadInput("Draft %s: client %s does not exist" % (key, d.get("clientnr")))
            if not d.get("lines"):
                raise BadInput("Draft %s has no lines" % key)
            drafts.append((key, d, client))
        nrs = []
        for key, d, client in drafts:
            rec = {name: d.get(name, default_for(kind, name, INVOICE_DEFAULTS))
                   for name, kind in INVOICE_POST_FIELDS}
            how = sm or client.get("sendmethod")
            nrs.append(self.send_invoice(client, rec, copy.deepcopy(d["lines"]),
                                         how if how in SENDMETHODS else "email"))
            del self.saved[key]
        return "\n".join(nrs)

    def post_invoice(self, body):
        self.check_fields(body, INVOICE_POST_ACTION + INVOICE_POST_FIELDS, extra_known={f for f, _ in INVOICE_FIELDS} | {f for f, _ in REPEATED_FIELDS})
        if body.get("clientnr") in (None, ""):
            raise BadInput("Field 'clientnr' is required")
        clientnr = wire_value("clientnr", "int", body["clientnr"])
        if clientnr not in self.clients:
            raise BadInput("Field 'clientnr': client %s does not exist" % clientnr)
        client = self.clients[clientnr]
        lines = normalize_lines(body.get("lines"))
        if not lines:
            raise BadInput("Field 'lines' must contain at least one line")
        for k, ln in lines.items():
            if not ln.get("description"):
                raise BadInput("Field 'lines[%s][description]' is required" % k)
        action = str(body.get("action") or "")
        if action not in ("send", "save", "repeat"):
            raise BadInput("Field 'action' must be one of send, save, repeat")
        rec = {}
        top = client.get("top") or "14"
        defaults = dict(INVOICE_DEFAULTS, paymentperiod=top, discount=client.get("stddiscount") or "0",
                        discounttype="percentage" if float(client.get("stddiscount") or 0) else "amount",
                        language=client.get("defaultdoclang") or "nl")
        for name, kind in INVOICE_POST_FIELDS:
            v = body.get(name)
            rec[name] = default_for(kind, name, defaults) if v is None else wire_value(name, kind, v)
        if rec["discounttype"] not in ("amount", "percentage"):
            raise BadInput("Field 'discounttype' must be amount or percentage")
        if not rec["paymentcondition"]:
            rec["paymentcondition"] = "Betaling binnen %s dagen" % rec["paymentperiod"]
        today = self.today()
        if action == "send":
            sm = body.get("sendmethod")
            if sm not in SENDMETHODS:
                raise BadInput("Field 'sendmethod' must be one of mail, email, printcenter")
            return self.send_invoice(client, rec, lines, sm)
        savename = body.get("savename")
        if savename in (None, "") or isinstance(savename, (dict, list)):
            raise BadInput("Field 'savename' is required for action %s" % action)
        savename = str(savename)
        s = {"id": "", "savename": savename, "profile": rec["profile"], "clientnr": clientnr,
             "reference": rec["reference"], "discounttype": rec["discounttype"],
             "discount": rec["discount"], "totaldiscount": "0.00",
             "paymentcondition": rec["paymentcondition"], "paymentperiod": rec["paymentperiod"],
             "collection": rec["collection"], "tax": "0.00", "totalintax": "0.00"}
        for f in ("company", "contact", "address", "zipcode", "city", "country", "email"):
            s[f] = client.get(f, "")
        s["invoicenote"] = rec["invoicenote"]
        s["lines"] = lines
        s["taxes"] = []
        s["language"] = rec["language"]
        compute_totals(s)
        s["name"] = savename
        s["alreadypaid"] = "0.00"
        s["alreadypaidmethod"] = ""
        s["datesaved"] = today.isoformat()
        table, fields = self.saved, SAVED_FIELDS
        if action == "repeat":
            vals = {}
            for name in ("initialdate", "finalsenddate", "frequency", "repeattype"):
                if body.get(name) in (None, ""):
                    raise BadInput("Field '%s' is required for action repeat" % name)
            for name, kind in REPEATED_EXTRA:
                if name in body:
                    vals[name] = wire_value(name, kind, body[name])
            s["datesaved"] = today.isoformat()
            s["initialdate"] = vals["initialdate"]
            s["nextsenddate"] = vals["initialdate"] if vals["initialdate"] >= today.isoformat() else today.isoformat()
            s["finalsenddate"] = vals["finalsenddate"]
            s["frequency"] = vals["frequency"]
            s["repeattype"] = vals["repeattype"]
            table, fields = self.repeated, REPEATED_FIELDS
        overwrite = wire_value("overwrite_if_exist", "bool", body.get("overwrite_if_exist", False))
        sid = None
        if overwrite == "1":
            for k, r in table.items():
                if r.get("savename") == savename:
                    sid = k
        if sid is None:
            sid = str(self.next_saved)
            self.next_saved += 1
        s["id"] = sid
        table[sid] = {n: s[n] for n, _ in fields}
        return sid

    def find_invoice(self, ident):
        """An invoice by its invoicenr, else by its id (the payment page: "{id or
        invoicenr}"): (key, record)."""
        try:
            return self.find("invoices", ident)
        except NotFound:
            for key, inv in self.invoices.items():
                if str(inv.get("id", "")) in ident:
                    return key, inv
            raise

    def payment(self, ident, body):
        """POST invoices_payment/<id or invoicenr> (or PUT, py's older reading): `date`
        required, `amount` a number (as text, or a JSON number) or "full" (all that is
        open), `method` optional."""
        key, inv = self.find_invoice(ident)
        if body.get("date") in (None, ""):
            raise BadInput("Field 'date' is required")
        date = wire_value("date", "date", body.get("date"))
        if body.get("amount") in (None, ""):
            raise BadInput("Field 'amount' is required")
        method = wire_value("method", "str", body.get("method"))
        if isinstance(body["amount"], str) and body["amount"].strip().lower() == "full":
            amount = round(float(inv.get("open") or 0), 2)
            if not amount > 0:
                raise BadInput("Field 'amount': invoice %s has nothing open to pay" % key)
        else:
            amount = _numeric("amount", body["amount"], False)
        if not amount > 0:
            raise BadInput("Field 'amount' must be a number greater than 0 or full")
        openamt = round(float(inv.get("open") or 0) - amount, 2)
        inv["open"] = money(openamt)
        if openamt <= 0.004 and not inv.get("paiddate"):
            inv["paiddate"] = date
        hist = inv.get("history")
        if not isinstance(hist, dict):
            hist = {}
        hist["item%d" % (len(hist) + 1)] = {"date": date, "time": time.strftime("%H:%M"),
                                            "description": "Betaling ontvangen: %s%s" % (
                                                pdfgen._money(amount), " (%s)" % method if method else "")}
        inv["history"] = hist
        if openamt <= 0.004:
            inv["payment_url"] = ""

    # -- quotations ----------------------------------------------------------------------
    def quotation_input(self, body, base):
        self.check_fields(body, QUOTATION_FIELDS + QUOTATION_ACTION)
        rec = dict(base)
        for name, kind in QUOTATION_FIELDS:
            if name in QUOTATION_READONLY or name not in body:
                if name not in rec:
                    rec[name] = default_for(kind, name, QUOTATION_DEFAULTS)
                continue
            v = body[name]
            if kind == "lines":
                rec[name] = normalize_lines(v)
            else:
                rec[name] = default_for(kind, name, QUOTATION_DEFAULTS) if v is None else wire_value(name, kind, v)
        if rec.get("clientnr") in (None, "", "0"):
            raise BadInput("Field 'clientnr' is required")
        client = self.clients.get(rec["clientnr"])
        if client is None:
            raise BadInput("Field 'clientnr': client %s does not exist" % rec["clientnr"])
        if not rec.get("lines"):
            raise BadInput("Field 'lines' must contain at least one line")
        rec["company"], rec["contact"] = client.get("company", ""), client.get("contact", "")
        compute_totals(rec)
        self.quotation_names(rec)
        return rec

    def quotation_names(self, q):
        """Sets @q's read-only profile_name and category_name from its ids."""
        def name_of(items, ident):
            return next((str(i.get("name", "")) for i in items
                         if str(i.get("id", "")) == str(ident or "") != ""), "")
        q["profile_name"] = name_of(self.profiles, q.get("profile"))
        q["category_name"] = name_of(self.categories, q.get("category"))

    def post_quotation(self, body):
        action = str(body.get("action") or "")
        if action not in ("send", "save"):
            raise BadInput("Field 'action' must be one of send, save")
        if action == "send" and body.get("sendmethod") not in SENDMETHODS:
            raise BadInput("Field 'sendmethod' must be one of mail, email, printcenter")
        rec = self.quotation_input(body, {})
        qid = str(self.next_quotation)
        self.next_quotation += 1
        rec["id"] = qid
        if not rec.get("date"):
            rec["date"] = self.today().isoformat()
        self.quotations[qid] = {n: rec[n] for n, _ in QUOTATION_FIELDS}
        return int(qid)

    def put_quotation(self, ident, body):
        key, old = self.find("quotations", ident)
        base = dict(old) if WIRE["put_missing"] == "keep" else {"id": key}
        rec = self.quotation_input(body, base)
        rec["id"] = key
        self.quotations[key] = rec

    # -- reminders ------------------------------------------------------------------------
    def reminder(self, ident, body):
        """PUT invoices_reminder/<nr> or POST invoices_reminder {invoicenr}: the invoice's
        client gets a reminder (here: lastreminder and history)."""
        key, inv = self.find("invoices", ident)
        attach = wire_value("attach_invoice", "bool", body.get("attach_invoice", False))
        today = self.today().isoformat()
        inv["lastreminder"] = today
        hist = inv.get("history")
        if not isinstance(hist, dict):
            hist = {}
        hist["item%d" % (len(hist) + 1)] = {
            "date": today, "time": time.strftime("%H:%M"),
            "description": "Herinnering verstuurd%s" % (" met factuur" if attach == "1" else "")}
        inv["history"] = hist

    # -- listing -------------------------------------------------------------------------
    def list_invoices(self, q):
        recs = list(self.invoices.values())
        flt = q.get("filter")
        if flt not in (None, ""):
            if flt not in WIRE["filters"]:
                raise BadInput("Field 'filter' must be one of %s" % ", ".join(WIRE["filters"]))
            today = self.today().isoformat()
            recs = [r for r in recs if invoice_matches(r, flt, today)]
        since = q.get("since")
        if since not in (None, ""):
            since = wire_value("since", "date", since)
            recs = [r for r in recs if invoice_day(r) >= since]
        until = q.get("until")
        if until not in (None, ""):
            until = wire_value("until", "date", until)
            recs = [r for r in recs if invoice_day(r) and invoice_day(r) <= until]
        cf = q.get(WIRE["client_filter_param"])
        if cf not in (None, ""):
            cf = wire_value(WIRE["client_filter_param"], "int", cf)
            recs = [r for r in recs if r.get("clientnr") == cf]
        return recs

    def search(self, raw):
        """GET search/<area>/<field|all>/<query> (WIRE["search_empty"]): the matching
        records of the area, or NotFound for none under --search-empty 404."""
        area, _, rest = raw.partition("/")
        field, _, query = rest.partition("/")
        area, field = urllib.parse.unquote(area), urllib.parse.unquote(field)
        if area not in SEARCH_AREAS:
            raise NotFound("Unknown search area '%s'" % area)
        query = urllib.parse.unquote(query)
        if not field or not query:
            raise BadInput("Search needs a field (or all) and a query")
        known = {f for f, _ in SEARCH_AREAS[area]}
        if area == "clients":
            known |= set(CLIENT_ALIASES)
        if field != "all" and field not in known:
            raise BadInput("Unknown field '%s' for %s" % (field, area))
        field = CLIENT_ALIASES.get(field, field) if area == "clients" else field
        needle = query.casefold()

        def hit(v):
            return isinstance(v, (str, int, float)) and not isinstance(v, bool) and \
                needle in str(v).casefold()
        recs = [r for r in self.table(area).values()
                if (any(hit(v) for v in r.values()) if field == "all" else hit(r.get(field)))]
        if not recs and WIRE["search_empty"] == "404":
            raise NotFound("No results")
        return recs


def invoice_day(r):
    """The day an invoice is dated: its `date` when it has one (the older reading),
    else `sent`, else its first history event that has a date; "" for none."""
    for v in (r.get("date"), r.get("sent")):
        if isinstance(v, str) and _DATE_RE.match(v):
            return v
    hist = r.get("history")
    for ev in (_ordered_items(hist, "item") if isinstance(hist, dict)
               else hist if isinstance(hist, list) else []):
        v = ev.get("date") if isinstance(ev, dict) else None
        if isinstance(v, str) and _DATE_RE.match(v):
            return v
    return ""


def _str(v):
    """A stored string field; anything else (records stored through /_fake/state may hold
    any JSON) counts as empty."""
    return v if isinstance(v, str) else ""


def invoice_matches(r, flt, today):
    def f(k):
        try:
            return float(r.get(k) or 0)
        except (TypeError, ValueError):
            return 0.0
    openamt, total = f("open"), f("totalintax")
    unc = bool(r.get("uncollectible"))
    if flt == "uncollectible":
        return unc
    if flt == "open":
        return openamt > 0.004 and not unc
    if flt == "overdue":
        return openamt > 0.004 and not unc and bool(_str(r.get("duedate"))) and r["duedate"] < today
    if flt == "sent":
        return bool(r.get("sent")) and openamt > 0.004 and abs(openamt - total) < 0.005 and not unc
    if flt == "partly":
        return 0.004 < openamt < total - 0.004 and not unc
    if flt == "toomuch":
        return openamt < -0.004
    if flt == "paid":
        return abs(openamt) <= 0.004 and not unc
    return False


def page(recs, q):
    """Apply count/offset/start paging (see WIRE)."""
    def intparam(name):
        v = q.get(name)
        if v in (None, ""):
            return None
        if not _INT_RE.match(v.strip()) or int(v) < 0:
            raise BadInput("Field '%s' must be a non-negative integer" % name)
        return int(v)
    raw_count = q.get("count")
    if raw_count is not None and raw_count.strip() == "-1":
        # count=-1 (WIRE["count_minus_one"]): everything from the offset on, or no count.
        count = None if WIRE["count_minus_one"] == "ignored" else -1
    else:
        count = intparam("count")
    offset = None
    for name in WIRE["offset_params"]:
        v = intparam(name)
        if offset is None and v is not None:
            offset = v
    offset = offset or 0
    if count == -1 and not WIRE["ignore_count"]:
        return recs[offset:]
    if WIRE["ignore_count"] or count is None:
        count = WIRE["page_size"]
    else:
        count = min(count, WIRE["max_count"])
    return recs[offset:offset + count]


# ---------------------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------------------
def parse_body(raw, ctype):
    """JSON object, one-element JSON array, or form-encoded flattened keys -> dict."""
    s = raw.decode("utf-8", errors="replace").strip() if raw else ""
    if not s:
        return {}
    ctype = (ctype or "").lower()
    if s[0] in "{[" or "json" in ctype:
        try:
            obj = json.loads(s)
        except ValueError as e:
            raise BadInput("Invalid JSON body: %s" % e)
        if isinstance(obj, list):
            if len(obj) != 1 or not isinstance(obj[0], dict):
                raise BadInput("JSON array body must hold exactly one object")
            obj = obj[0]
        if not isinstance(obj, dict):
            raise BadInput("JSON body must be an object")
        return obj
    return unflatten(urllib.parse.parse_qsl(s, keep_blank_values=True))


def unflatten(pairs):
    """Form pairs with php-style keys (lines[1][amount]=2) -> nested dicts."""
    out = {}
    for key, value in pairs:
        m = re.match(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$", key)
        if not m:
            raise BadInput("Malformed form field name '%s'" % key)
        parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        cur = out
        for i, p in enumerate(parts):
            if p == "":
                p = str(len(cur))
            if i == len(parts) - 1:
                cur[p] = value
            else:
                nxt = cur.get(p)
                if not isinstance(nxt, dict):
                    nxt = cur[p] = {}
                cur = nxt
    return out


def id_candidates(raw):
    """Decodings of a path id: %-escapes (also raw '/'), then php urlencode ('+' = space)."""
    out = []
    for c in (urllib.parse.unquote(raw), urllib.parse.unquote_plus(raw), raw):
        if c not in out:
            out.append(c)
    return out


# ---------------------------------------------------------------------------------------
# Server
# ---------------------------------------------------------------------------------------
# Injectable faults: kind -> the stage of an API request where it acts.  A fault acts on
# the next `count` requests whose path (query included) starts with `path_prefix` (and
# whose method is `method`, when given), and is used up only where it acts.  One pending fault per kind (a new spec replaces it); kinds
# are independent, so several may be pending at once.  Stages, in request order:
#   delay   first (after the global latency_ms)
#   refuse  instead of spending a call: answered at once, the real budget untouched
#   stall   after the call is spent, before the answer is made (other connections go on)
#   answer  the first kind of this stage pending for the path (table order) wins
#   encode  on JSON responses only: PDFs and plain text leave it pending
FAULT_KINDS = {
    "spike": "delay",        # {"ms"}: that much latency on top
    "ratelimit": "refuse",   # {"status", "retry_after", "headers"}: a spent hourly budget
    "hang": "stall",         # {"seconds"}: no answer until then or /_fake/reset
    "drop": "answer",        # the connection closed, no answer (logged as status 0)
    "cut": "answer",         # the real status line and headers, half the body, closed (status 0)
    "fail": "answer",        # {"status", "body", "headers"} instead of the real answer
    "malformed": "answer",   # a 200 with the real body cut in half, Content-Length consistent
    "redirect": "answer",    # {"status", "location"}: a 3xx elsewhere instead of the answer
    "trickle": "answer",     # {"bytes", "ms"}: the body a few bytes at a time
    "stall_body": "answer",  # {"seconds"}: the headers, then nothing until then or a reset
    "length": "answer",      # {"announce"}: a Content-Length bigger than the body, then closed
    "latin1": "encode",      # non-ASCII as raw ISO-8859-1 bytes, not \u escapes
}

# Whether a kind carries the request out before its answer when "after" is not given
# (the top of this file): the bad answers that come with a real one.
AFTER_BY_DEFAULT = {"cut", "trickle", "stall_body", "length"}


ANSWER_FAULTS = tuple(k for k, stage in FAULT_KINDS.items() if stage == "answer")


class Fault:
    def __init__(self, kind, spec):
        if not isinstance(spec, dict):
            raise BadInput("fault '%s' must be an object" % kind)
        self.kind = kind
        self.count = int(spec.get("count", 1))
        self.prefix = str(spec.get("path_prefix", "") or "")
        self.method = spec.get("method")
        if self.method is not None:
            self.method = str(self.method).upper()
        default_status = {"ratelimit": WIRE["ratelimit_status"], "redirect": 302}.get(kind, 500)
        self.status = int(spec.get("status", default_status))
        self.body = str(spec.get("body", "Internal Server Error"))
        self.ctype = str(spec.get("ctype", "text/plain; charset=utf-8"))
        self.seconds = float(spec.get("seconds", 30))
        self.ms = float(spec.get("ms", 200 if kind == "trickle" else 1000))
        self.after = bool(spec.get("after", kind in AFTER_BY_DEFAULT))
        self.bytes = max(1, int(spec.get("bytes", 1)))
        self.location = str(spec.get("location", "http://127.0.0.1:9/elsewhere"))
        announce = spec.get("announce")
        self.announce = None if announce is None else int(announce)
        if self.announce is not None and self.announce < 0:
            raise BadInput("fault '%s': announce must not be negative" % kind)
        ra = spec.get("retry_after")
        if isinstance(ra, (int, float)) and not isinstance(ra, bool) and ra == int(ra):
            ra = int(ra)
        self.retry_after = None if ra is None else str(ra)
        headers = spec.get("headers") or {}
        if not isinstance(headers, dict):
            raise BadInput("fault '%s': headers must be an object" % kind)
        self.headers = {str(k): str(v) for k, v in headers.items()}
        # A CR or LF would end the header block early: not a fault anyone asked for.
        if any(re.search(r"[\r\n:]", k) or re.search(r"[\r\n]", v) for k, v in self.headers.items()) \
                or re.search(r"[\r\n]", self.retry_after or "") \
                or re.search(r"[\r\n]", self.ctype) or re.search(r"[\r\n]", self.location):
            raise BadInput("fault '%s': bad header" % kind)

    def describe(self):
        d = {"kind": self.kind, "count": self.count, "path_prefix": self.prefix,
             "status": self.status, "seconds": self.seconds}
        if self.method:
            d["method"] = self.method
        if self.kind in ("spike", "trickle"):
            d["ms"] = self.ms
        if self.kind in ANSWER_FAULTS or self.kind == "hang":
            d["after"] = self.after
        if self.kind == "trickle":
            d["bytes"] = self.bytes
        if self.kind == "redirect":
            d["location"] = self.location
        if self.kind == "length" and self.announce is not None:
            d["announce"] = self.announce
        if self.headers:
            d["headers"] = self.headers
        if self.retry_after is not None:
            d["retry_after"] = self.retry_after
        return d


class FakeAPI:
    def __init__(self, account, user, apikey, latency_ms=0, logfile=None):
        self.account = account
        self.user, self.apikey = user, apikey
        self.base_latency = latency_ms
        self.latency = latency_ms
        self.lock = threading.Lock()
        self.remaining = WIRE["rate_limit"]
        self.window_start = None
        self.faults = {}
        self.requests = 0
        # TLS connections: the last serial number given, and the handshakes completed,
        # full and resumed (Server.finish_request).  Not reset by /_fake/reset.
        self.conns = 0
        self.tls_full = self.tls_resumed = 0
        self.release = threading.Event()
        self.log = open(logfile, "a", encoding="utf-8") if logfile else None
        self.log_lock = threading.Lock()
        # /_fake/pdfsize: invoice key -> bytes; padded PDFs are cached by record content.
        self.pdf_sizes = {}
        self.pdf_cache = {}

    # -- control -----------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.remaining = WIRE["rate_limit"]
            self.window_start = time.monotonic()
            self.faults = {}
            self.latency = self.base_latency
            self.release.set()
            self.release = threading.Event()

    def inject(self, spec):
        if not isinstance(spec, dict):
            raise BadInput("inject body must be a JSON object")
        with self.lock:
            for kind in FAULT_KINDS:
                if kind in spec:
                    try:
                        self.faults[kind] = Fault(kind, spec[kind])
                    except (TypeError, ValueError):
                        raise BadInput("bad fault spec for '%s'" % kind)
            if "latency_ms" in spec:
                self.latency = float(spec["latency_ms"])
            if "ratelimit_remaining" in spec:
                self.remaining = max(0, int(spec["ratelimit_remaining"]))
                self.window_start = time.monotonic()

    def take_fault(self, kinds, path, method):
        with self.lock:
            for kind in kinds:
                f = self.faults.get(kind)
                if f and f.count > 0 and path.startswith(f.prefix) and f.method in (None, method):
                    f.count -= 1
                    if f.count <= 0:
                        del self.faults[kind]
                    return f
        return None

    def count_handshake(self, resumed):
        """A completed TLS handshake: returns the connection's serial number."""
        with self.lock:
            self.conns += 1
            if resumed:
                self.tls_resumed += 1
            else:
                self.tls_full += 1
            return self.conns

    def count_request(self):
        """A request that spends no call (the ratelimit fault)."""
        with self.lock:
            self.requests += 1

    def spend(self):
        """Spend one call; returns (allowed, remaining after)."""
        with self.lock:
            self.requests += 1
            now = time.monotonic()
            if self.window_start is None:
                self.window_start = now
            elif now - self.window_start >= WIRE["hour_seconds"]:
                self.window_start = now
                self.remaining = WIRE["rate_limit"]
            if self.remaining <= 0:
                return False, 0
            self.remaining -= 1
            return True, self.remaining

    def invoice_pdf(self, ident):
        """The PDF of an invoice (id candidates), padded to its /_fake/pdfsize.  Rendered
        from a copy, outside the account lock; padded PDFs are kept, per content."""
        with self.account.lock:
            key, inv = self.account.find("invoices", ident)
            inv = copy.deepcopy(inv)
        if not inv.get("date"):
            inv["date"] = invoice_day(inv)  # the date the PDF shows
        size = self.pdf_sizes.get(key, 0)
        if not size:
            return pdfgen.invoice_pdf(inv)
        fingerprint = (php_json(inv), size)
        hit = self.pdf_cache.get(key)
        if hit and hit[0] == fingerprint:
            return hit[1]
        data = pdfgen.invoice_pdf(inv, size)
        self.pdf_cache[key] = (fingerprint, data)
        return data

    def quotation_pdf(self, ident):
        """A quotation's PDF: rendered as an invoice titled with the quotation's number."""
        with self.account.lock:
            _, q = self.account.find("quotations", ident)
            q = copy.deepcopy(q)
        nr = "Offerte %s" % q.get("id", "")
        return pdfgen.invoice_pdf(dict(q, invoicenr=nr, invoicenr_full=nr))

    def write_log(self, entry):
        if not self.log:
            return
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.log_lock:
            self.log.write(line)
            self.log.flush()

    # -- API -------------------------------------------------------------------------
    def authorized(self, header):
        if not header or not header.startswith("Basic "):
            return False
        try:
            dec = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        user, sep, key = dec.partition(":")
        return bool(sep) and user == self.user and key == self.apikey

    def route(self, method, path, query, body_raw, ctype):
        """Authenticated API request -> Response."""
        if not path.startswith("/api/v1/"):
            return text(404, "Not found")
        rest = path[len("/api/v1/"):]
        qpdf = quotation_pdf_route(rest)
        if qpdf:
            pattern, raw = qpdf
            if pattern != WIRE["quotation_pdf_path"] or method != "GET":
                return text(404, "Not found")
            return Response(200, self.quotation_pdf(id_candidates(raw)), "application/pdf")
        coll, sep, raw_id = rest.partition("/")
        has_id = raw_id != ""
        if coll not in ROUTES:
            return text(404, "Unknown collection '%s'" % coll)
        allowed = ROUTES[coll]
        if (method, has_id) not in allowed:
            methods = sorted({m for m, _ in allowed})
            if method == "GET" and "GET" in methods:
                return text(404, "Not found")
            return text(405, "Method %s not allowed on %s%s" % (method, coll, "/<id>" if has_id else ""),
                        headers={"Allow": ", ".join(methods)})
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        ident = id_candidates(raw_id) if has_id else None
        acct = self.account
        if method == "GET" and coll == "invoices_pdf":
            return Response(200, self.invoice_pdf(ident), "application/pdf")
        if method == "GET" and coll == "search":
            with acct.lock:
                area = raw_id.partition("/")[0]
                recs = acct.search(raw_id)
                if area == "invoices" and not WIRE["list_lines"]:
                    recs = [{k: v for k, v in r.items() if k != "lines"} for r in recs]
                forms = WIRE["wire_forms"]
                return list_resp(area, [dress(area, r, forms) for r in recs] if forms else recs)
        with acct.lock:
            if method == "GET":
                if coll == "countrylist":
                    return list_resp(coll, page(acct.records(coll, lang=ident[0] if ident else None), q))
                if coll == "balance":
                    return jresp(acct.balance)
                forms = WIRE["wire_forms"]
                if has_id:
                    try:
                        _, rec = acct.find(coll, ident)
                    except NotFound:
                        if not WIRE["missing_one_lists"]:
                            raise
                        # As rb fs_api says the live service may: the whole list.
                        recs = page(acct.records(coll), {})
                        return list_resp(coll, [dress(coll, r, forms) for r in recs])
                    dressed = dress(coll, rec, forms)
                    return jresp({SINGULAR[coll]: dressed} if WIRE["one_wrapped"] else dressed)
                recs = acct.list_invoices(q) if coll == "invoices" else acct.records(coll)
                recs = page(recs, q)
                if coll in ("invoices", "quotations") and not WIRE["list_lines"]:
                    recs = [{k: v for k, v in r.items() if k != "lines"} for r in recs]
                return list_resp(coll, [dress(coll, r, forms) for r in recs] if forms else recs)
            if method == "DELETE":
                key, _ = acct.find(coll, ident)
                del acct.table(coll)[key]
                return text(WIRE["ok_status"], "")
            body = parse_body(body_raw, ctype)
            if method == "POST":
                if coll == "clients":
                    return Response(WIRE["created_status"], php_json(acct.post_client(body)), "application/json")
                if coll == "products":
                    return Response(WIRE["created_status"], php_json(acct.post_product(body)), "application/json")
                if coll == "invoices":
                    return text(WIRE["created_status"], acct.post_invoice(body))
                if coll == "quotations":
                    return Response(WIRE["created_status"], php_json(acct.post_quotation(body)), "application/json")
                if coll == "invoices_reminder":
                    nr = body.get("invoicenr")
                    if nr in (None, ""):
                        raise BadInput("Field 'invoicenr' is required")
                    acct.reminder([str(nr)], body)
                    return text(WIRE["created_status"], "")
                if coll == "invoices_payment":
                    if not has_id:
                        nr = body.get("invoicenr")
                        if nr in (None, ""):
                            raise BadInput("Field 'invoicenr' is required")
                        ident = [str(nr)]
                    acct.payment(ident, body)
                    return text(WIRE["created_status"], "")
                if coll == "invoices_saved":
                    return text(WIRE["created_status"], acct.send_drafts(body))
            if method == "PUT":
                if coll == "clients":
                    acct.put_client(ident, body)
                elif coll == "products":
                    acct.put_product(ident, body)
                elif coll == "invoices_payment":
                    acct.payment(ident, body)
                elif coll == "quotations":
                    acct.put_quotation(ident, body)
                elif coll == "invoices_reminder":
                    acct.reminder(ident, body)
                return text(WIRE["ok_status"], "")
        return text(405, "Method not allowed")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends; with Nagle's algorithm on, a reused
    # connection then waits ~40 ms for the client's delayed ACK, a delay no
    # real service adds.
    disable_nagle_algorithm = True
    server_version = "fakeapi/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, method, resp, remaining=None):
        # How an answer fault shapes the bytes (Handler.api): trickle, stall_body, length.
        shape, self.shape = getattr(self, "shape", None), None
        announced = len(resp.body)
        if shape and shape.kind == "length":
            announced = shape.announce if shape.announce is not None else len(resp.body) + 100
            announced = max(announced, 1)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(announced))
        # A fault's own X-RateLimit-Remaining replaces the real one.
        if remaining is not None and "x-ratelimit-remaining" not in {k.lower() for k in resp.headers}:
            self.send_header("X-RateLimit-Remaining", str(remaining))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        release = self.server.app.release
        if shape and shape.kind == "stall_body":
            self.wfile.flush()
            release.wait(shape.seconds)
        body = resp.body[:len(resp.body) // 2] if resp.cut else resp.body
        if method != "HEAD" and shape and shape.kind == "trickle":
            self.wfile.flush()
            for i in range(0, len(body), shape.bytes):
                if not release.is_set():
                    release.wait(shape.ms / 1000.0)
                self.wfile.write(body[i:i + shape.bytes])
                self.wfile.flush()
        elif method != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        if resp.cut or (shape and shape.kind == "length"):
            self.hangup()

    def hangup(self):
        """Close the connection under the client (drop, cut): queued bytes still go out."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def conn_fields(self, entry):
        """@entry with the TLS connection's serial number, and on the connection's first
        logged request how its handshake went (Server.finish_request).  A handler serves
        one connection, all its keep-alive requests."""
        info = getattr(self.connection, "fake_tls", None)
        if info is None:
            return entry
        entry["conn"] = info["conn"]
        if not getattr(self, "tls_logged", False):
            entry["tls"] = info["tls"]
            self.tls_logged = True
        return entry

    def dispatch(self, method):
        app = self.server.app
        t0 = time.time()
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send(method, text(400, "Bad request body"))
            return
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        if path.startswith("/_fake/"):
            try:
                resp = self.control(method, path, body)
            except BadInput as e:
                resp = text(400, str(e))
            except NotFound as e:
                resp = text(404, str(e))
            except Exception:
                traceback.print_exc()
                resp = text(500, "fakeapi control error")
            self.send(method, resp)
            return

        # --- API request ---
        self.shape = None  # set by api(): how send() shapes the answer
        latency = app.latency
        if latency > 0:
            time.sleep(latency / 1000.0)
        spike = app.take_fault(("spike",), self.path, method)
        if spike:
            time.sleep(spike.ms / 1000.0)
        status, nbytes = 0, 0
        logged = False
        try:
            refused = app.take_fault(("ratelimit",), self.path, method)
            if refused:
                app.count_request()
                resp, remaining = ratelimited(refused.status, refused.retry_after), 0
                resp.headers.update(refused.headers)
            else:
                ok, remaining = app.spend()
                resp = self.api(method, path, query, body, app) if ok else ratelimited()
            if resp.ctype == "application/json" and not resp.drop and app.take_fault(("latin1",), self.path, method):
                resp.body = latin1_json(resp.body)
            if resp.cut:
                nbytes = len(resp.body) // 2
            elif self.shape and self.shape.kind == "length":
                nbytes = len(resp.body)  # all it sends, short of what it announces
            elif not resp.drop:
                status, nbytes = resp.status, len(resp.body)
            # Log before answering: a client that got its answer must find the
            # request in the log (tests count requests right after a call).
            entry = {"t": t0, "method": method, "path": self.path, "status": status,
                     "bytes": nbytes, "req_bytes": len(body), "remaining": remaining}
            # What a write sent, as text: tests read the names and forms of a PUT.
            if method in ("POST", "PUT") and body and len(body) <= 65536:
                entry["body"] = body.decode("utf-8", "replace")
            app.write_log(self.conn_fields(entry))
            logged = True
            if resp.drop:
                self.hangup()
            else:
                try:
                    self.send(method, resp, remaining)
                except OSError:
                    self.close_connection = True
        finally:
            if not logged:
                app.write_log(self.conn_fields({"t": t0, "method": method, "path": self.path,
                                                "status": status, "bytes": nbytes,
                                                "req_bytes": len(body)}))

    def api(self, method, path, query, body, app):
        hang = app.take_fault(("hang",), self.path, method)
        if hang and not hang.after:
            app.release.wait(hang.seconds)
        f = app.take_fault(ANSWER_FAULTS, self.path, method)
        # Carried out first: no fault, or one that comes after acting (the top of this
        # file); malformed answers a GET's real body, anything else not at all.
        real = None
        if f is None or f.after or f.kind == "malformed":
            real = self.answer(method, path, query, body, app,
                               malformed=bool(f and f.kind == "malformed"))
        if hang and hang.after:
            app.release.wait(hang.seconds)
        if f is None or f.kind == "malformed":
            return real
        if f.kind == "drop":
            return Response(0, drop=True)
        if f.kind == "fail":
            return Response(f.status, f.body, f.ctype, headers=dict(f.headers))
        if f.kind == "redirect":
            page = '<html><body><a href="%s">moved</a></body></html>' % f.location
            return Response(f.status, page, "text/html", headers=dict(f.headers, Location=f.location))
        resp = real if f.after else Response(f.status, f.body, f.ctype, headers=dict(f.headers))
        if f.kind == "cut":
            resp.cut = True
        else:
            self.shape = f  # trickle, stall_body, length: send() shapes the bytes
        return resp

    def answer(self, method, path, query, body, app, malformed=False):
        """The real answer (auth, routing); malformed: a 200 with its body cut in half."""
        if not app.authorized(self.headers.get("Authorization")):
            return text(401, "Unauthorized: bad user name or API key",
                        headers={"WWW-Authenticate": 'Basic realm="%s"' % REALM})
        if method not in ("GET", "POST", "PUT", "DELETE"):
            return text(405, "Method %s not allowed" % method,
                        headers={"Allow": "GET, POST, PUT, DELETE"})
        if malformed:
            real = Response(200, b'{"truncated":', "application/json")
            if method == "GET":
                try:
                    real = app.route(method, path, query, body, self.headers.get("Content-Type"))
                except (BadInput, NotFound):
                    pass
            b = real.body
            b = b[:max(1, len(b) // 2)] if len(b) > 2 else b'{"truncated":'
            return Response(200, b, "application/json")
        try:
            return app.route(method, path, query, body, self.headers.get("Content-Type"))
        except BadInput as e:
            return text(400, str(e))
        except NotFound as e:
            return text(404, str(e))
        except Exception:
            traceback.print_exc()
            return text(500, "Internal server error")

    def control(self, method, path, body):
        app = self.server.app
        acct = app.account
        rest = path[len("/_fake/"):]
        what, _, arg = rest.partition("/")
        if what == "state":
            coll, _, raw_id = arg.partition("/")
            if coll not in COLLECTIONS:
                raise NotFound("Unknown collection '%s'" % coll)
            with acct.lock:
                if method == "GET" and not raw_id:
                    recs = acct.records(coll)
                    if coll == "countrylist":
                        recs = acct.countries
                    return Response(200, json.dumps(recs).encode(), "application/json")
                tbl = acct.table(coll)
                if tbl is None or not raw_id:
                    return text(405, "Method not allowed")
                key = urllib.parse.unquote(raw_id)
                if method == "GET":
                    if key not in tbl:
                        raise NotFound("no such record")
                    return Response(200, json.dumps(tbl[key]).encode(), "application/json")
                if method == "PUT":
                    rec = json.loads(body.decode("utf-8"))
                    if not isinstance(rec, dict):
                        raise BadInput("record must be an object")
                    tbl[key] = rec
                    return text(200, "")
                if method == "DELETE":
                    if tbl.pop(key, None) is None:
                        raise NotFound("no such record")
                    return text(200, "")
            return text(405, "Method not allowed")
        if what == "pdf" and method == "GET":
            return Response(200, app.invoice_pdf(id_candidates(arg)), "application/pdf")
        if what == "quotation_pdf" and method == "GET":
            return Response(200, app.quotation_pdf(id_candidates(arg)), "application/pdf")
        if what == "pdfsize" and method == "PUT":
            try:
                spec = json.loads(body.decode("utf-8") or "{}")
                n = int(spec["bytes"])
            except (ValueError, KeyError, TypeError, AttributeError):
                raise BadInput('pdfsize body must be {"bytes": N}')
            if n < 0:
                raise BadInput("bytes must not be negative")
            with acct.lock:
                key, _ = acct.find("invoices", id_candidates(arg))
            app.pdf_sizes[key] = n
            app.pdf_cache.pop(key, None)
            return Response(200, b'{"ok":true}', "application/json")
        if what == "dump" and method == "GET":
            return Response(200, json.dumps(acct.dump()).encode(), "application/json")
        if what == "inject" and method == "POST":
            try:
                spec = json.loads(body.decode("utf-8") or "{}")
            except ValueError:
                raise BadInput("inject body must be JSON")
            app.inject(spec)
            return Response(200, b'{"ok":true}', "application/json")
        if what == "reset" and method == "POST":
            app.reset()
            return Response(200, b'{"ok":true}', "application/json")
        if what == "status" and method == "GET":
            with app.lock:
                st = {"remaining": app.remaining, "requests": app.requests,
                      "latency_ms": app.latency,
                      "faults": [f.describe() for f in app.faults.values()],
                      "tls": {"full": app.tls_full, "resumed": app.tls_resumed},
                      "wire": {k: v for k, v in WIRE.items() if isinstance(v, (int, str, bool))}}
            return Response(200, json.dumps(st).encode(), "application/json")
        raise NotFound("Unknown control endpoint")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # SO_REUSEADDR: a restarted fake binds its old port at once, next to the old
    # connections still in TIME_WAIT/FIN_WAIT (tests/harness.py Fake.start).
    allow_reuse_address = True
    request_queue_size = 128
    tls = None  # an ssl.SSLContext with --tls-cert

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread: in accept() (a
        # wrapped listening socket) one client that never says hello would stall them all.
        if self.tls is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)
            conn = self.tls.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except OSError:  # ssl.SSLError included: a client that gave up or spoke plain HTTP
            return
        # Read by Handler.conn_fields for the log.
        resumed = conn.session_reused
        conn.fake_tls = {"conn": self.app.count_handshake(resumed),
                         "tls": "resumed" if resumed else "full"}
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fake factuursturen.nl API v1 for factuurfs tests")
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--data", help="account JSON file (format: see the top of this file)")
    src.add_argument("--generate", help="synthetic account: clients=N,invoices=M,products=K")
    ap.add_argument("--seed", type=int, default=1, help="seed for --generate (default 1)")
    ap.add_argument("--user", default="demo", help="login (basic-auth user)")
    ap.add_argument("--apikey", default="demo-apikey-0123456789", help="API key (basic-auth password)")
    ap.add_argument("--latency-ms", type=float, default=0, help="sleep before each API answer")
    ap.add_argument("--rate-limit", type=int, default=WIRE["rate_limit"], help="API calls per hour")
    ap.add_argument("--hour-seconds", type=float, default=WIRE["hour_seconds"],
                    help="length of the rate limit's hour in seconds (tests only; default 3600)")
    ap.add_argument("--page-size", type=int, default=WIRE["page_size"], help="records per list without count")
    ap.add_argument("--max-count", type=int, default=WIRE["max_count"], help="largest honoured count")
    ap.add_argument("--ignore-count", action="store_true", help="ignore count; always page at --page-size")
    ap.add_argument("--paging", choices=("start", "offset", "both", "none"), default="start",
                    help="the paging parameter honoured (both: offset wins; none: every page is the first)")
    ap.add_argument("--count-minus-one", choices=("all", "ignored"), default=WIRE["count_minus_one"],
                    help="count=-1: the whole list in one answer, or taken as no count")
    ap.add_argument("--search-empty", choices=("list", "404"), default=WIRE["search_empty"],
                    help="what a search without a match answers: [] or a 404")
    ap.add_argument("--list-without-lines", action="store_true",
                    help="invoice listings without lines (GET invoices/<nr> has them)")
    ap.add_argument("--strict-fields", action="store_true", help="reject unknown fields with 400")
    ap.add_argument("--quotation-pdf-path", choices=QUOTATION_PDF_PATHS, default=WIRE["quotation_pdf_path"],
                    help="where quotation PDFs are served (the others answer 404)")
    ap.add_argument("--reminder-method", choices=("put", "post", "both"), default="both",
                    help="how a reminder is sent: PUT invoices_reminder/<nr>, POST invoices_reminder, both")
    ap.add_argument("--payment-method", choices=("post", "put", "both"), default="post",
                    help="how a payment is made: POST invoices_payment/<id or invoicenr> (or with "
                    "the invoicenr in the body), PUT invoices_payment/<invoicenr> (py v0), both")
    ap.add_argument("--invoice-date", action="store_true",
                    help="invoices also carry `date` (the older reading; default: dated by sent)")
    ap.add_argument("--draft-send-field", choices=("id", "invoicenr", "ids"), default="id",
                    help="the POST invoices_saved body field naming the drafts to send")
    ap.add_argument("--missing-one-lists", action="store_true",
                    help="GET of one record that does not exist answers the whole list (200)")
    ap.add_argument("--bare-one", action="store_true", help="GET one answers the bare record, unwrapped")
    ap.add_argument("--wrapped-lists", action="store_true", help='GET list answers {"<collection>": [...]}')
    ap.add_argument("--no-countrylist-lang", action="store_true", help="countrylist/<lang> answers 404")
    ap.add_argument("--wire-forms", default="live2015",
                    help="serve records in these forms, a comma list of %s or a preset (%s)"
                    % (", ".join(WIRE_FORMS), ", ".join(WIRE_PRESETS)))
    ap.add_argument("--today", help="fix today's date (YYYY-MM-DD) for new invoices and filters")
    ap.add_argument("--log", help="append one JSON line per API request to this file")
    ap.add_argument("--dump", metavar="FILE", help="write the account as a data file ('-' = stdout) and exit")
    ap.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    ap.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert (default: in that file)")
    a = ap.parse_args(argv)
    if a.tls_key and not a.tls_cert:
        ap.error("--tls-key needs --tls-cert")

    WIRE["rate_limit"] = a.rate_limit
    WIRE["hour_seconds"] = max(0.001, a.hour_seconds)
    WIRE["page_size"] = max(1, a.page_size)
    WIRE["max_count"] = max(1, a.max_count)
    WIRE["ignore_count"] = a.ignore_count
    WIRE["offset_params"] = {"start": ("start",), "offset": ("offset",),
                             "both": ("offset", "start"), "none": ()}[a.paging]
    WIRE["count_minus_one"] = a.count_minus_one
    WIRE["search_empty"] = a.search_empty
    WIRE["list_lines"] = not a.list_without_lines
    try:
        WIRE["wire_forms"] = parse_wire_forms(a.wire_forms)
    except ValueError as e:
        ap.error(str(e))
    if a.strict_fields:
        WIRE["unknown_fields"] = "reject"
    WIRE["quotation_pdf_path"] = a.quotation_pdf_path
    WIRE["reminder_methods"] = {"put": ("PUT",), "post": ("POST",), "both": ("PUT", "POST")}[a.reminder_method]
    ROUTES["invoices_reminder"] = {(m, m == "PUT") for m in WIRE["reminder_methods"]}
    WIRE["payment_methods"] = {"put": ("PUT",), "post": ("POST",), "both": ("POST", "PUT")}[a.payment_method]
    ROUTES["invoices_payment"] = ({("POST", True), ("POST", False)} if "POST" in WIRE["payment_methods"] else set()) | \
        ({("PUT", True)} if "PUT" in WIRE["payment_methods"] else set())
    WIRE["invoice_date"] = a.invoice_date
    WIRE["draft_send_field"] = a.draft_send_field
    WIRE["missing_one_lists"] = a.missing_one_lists
    WIRE["one_wrapped"] = not a.bare_one
    WIRE["list_wrapped"] = a.wrapped_lists
    WIRE["countrylist_lang"] = not a.no_countrylist_lang
    if not WIRE["countrylist_lang"]:
        ROUTES["countrylist"] = {("GET", False)}
    today = datetime.date.fromisoformat(a.today) if a.today else None

    if a.data:
        with open(a.data, encoding="utf-8") as f:
            data = json.load(f)
    else:
        data = generate(seed=a.seed, **parse_generate(a.generate))
    account = Account(data, today=today, wire=not a.data)

    if a.dump:
        out = json.dumps(account.dump(), ensure_ascii=False, indent=2) + "\n"
        if a.dump == "-":
            sys.stdout.write(out)
        else:
            with open(a.dump, "w", encoding="utf-8") as f:
                f.write(out)
        return 0

    tls = None
    if a.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.tls_cert, a.tls_key)
    try:
        srv = Server(("127.0.0.1", a.port), Handler)
    except OSError as e:  # the harness retries on "Address already in use"
        sys.stderr.write("fakeapi: cannot listen on 127.0.0.1:%d: %s\n" % (a.port, e.strerror or e))
        return 2
    srv.tls = tls
    srv.app = FakeAPI(account, a.user, a.apikey, latency_ms=a.latency_ms, logfile=a.log)
    port = srv.server_address[1]
    sys.stdout.write("fakeapi listening on %s://127.0.0.1:%d/api/v1/\n" % ("https" if tls else "http", port))
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
