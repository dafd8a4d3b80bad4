from django.urls import path

from . import apis, sandbox_views, views

api_urlpatterns = [
    path("dossiers/<str:code>/payment/", apis.DossierPaymentApi.as_view(), name="api-dossier-payment"),
    path("dossiers/<str:code>/payment/vnpay/", apis.OnlinePaymentStartApi.as_view(), name="api-payment-vnpay"),
    path("dossiers/<str:code>/payment/counter/", apis.CounterPaymentApi.as_view(), name="api-payment-counter"),
    path("dossiers/<str:code>/payment/slip.pdf", apis.PaymentSlipApi.as_view(), name="api-payment-slip"),
    path("payments/receipts/<str:number>.pdf", apis.ReceiptApi.as_view(), name="api-payment-receipt"),
    path("payments/vnpay/ipn/", apis.VnpayIpnApi.as_view(), name="api-payment-vnpay-ipn"),
    path("payments/bank-lines/", apis.BankLinesApi.as_view(), name="api-payment-bank-lines"),
    path("payments/bank-lines/import/", apis.BankLinesImportApi.as_view(), name="api-payment-bank-lines-import"),
    path("payments/reconciliation/", apis.ReconciliationApi.as_view(), name="api-payment-reconciliation"),
]

page_urlpatterns = [
    path("dossiers/<str:code>/payment/vnpay/", views.pay_online, name="payment-vnpay-page"),
    path("dossiers/<str:code>/payment/counter/", views.record_counter, name="payment-counter-page"),
    path("payments/vnpay/return/", views.vnpay_return, name="payment-vnpay-return"),
    path("payments/reconciliation/", views.reconciliation_page, name="payment-reconciliation-page"),
    path("payments/bank-lines/", views.bank_lines_page, name="payment-bank-lines-page"),
    path("receipts/<str:number>/check/", views.receipt_check, name="payment-receipt-check"),
]

# The sandbox gateway, at VNPay's own paths.
sandbox_urlpatterns = [
    path("sandbox/vnpay/paymentv2/vpcpay.html", sandbox_views.sandbox_pay, name="sandbox-vnpay-pay"),
    path("sandbox/vnpay/merchant_webapi/api/transaction", sandbox_views.sandbox_api_view, name="sandbox-vnpay-api"),
]
