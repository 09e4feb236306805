"""Organisation forms. Parent nodes are not checked against the offered choices here: a forged id reaches the
service, which refuses it with a message that says why (请选择您管辖范围内的…)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

CODE = Regexp(r"^[A-Za-z0-9_-]{1,20}$", message=_l("编码只能包含字母、数字、-、_，最多20位"))


class BranchForm(FlaskForm):
    code = StringField(_l("机构编码"), validators=[DataRequired(_l("请输入机构编码")), CODE])
    name = StringField(_l("机构名称"), validators=[DataRequired(_l("请输入机构名称")), Length(max=100)])
    level = SelectField(_l("层级"), validators=[DataRequired()])
    parent_id = SelectField(_l("上级机构"), coerce=str, validators=[Optional()], validate_choice=False)
    president_name = StringField(_l("行长姓名"), validators=[Optional(), Length(max=50)],
                                 description=_l("支行行长（如宝贝银行家实习证明的签发人）"))
    active = BooleanField(_l("启用"), default=True)
    version = HiddenField()


def _count(label):
    return IntegerField(label, default=0, validators=[Optional(), NumberRange(min=0, max=100000,
                                                                                message=_l("请输入0到100000之间的整数"))])


class OutletForm(FlaskForm):
    code = StringField(_l("网点编码"), validators=[DataRequired(_l("请输入网点编码")), CODE])
    name = StringField(_l("网点名称"), validators=[DataRequired(_l("请输入网点名称")), Length(max=100)])
    branch_id = SelectField(_l("所属支行"), coerce=str, validators=[DataRequired(_l("请选择所属机构"))],
                            validate_choice=False)
    outlet_type = SelectField(_l("网点类型"), validators=[DataRequired()])
    address = StringField(_l("地址"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=30)])
    area_m2 = DecimalField(_l("营业面积（平方米）"), places=2, validators=[
        Optional(), NumberRange(min=0, max=100000, message=_l("请输入合理的面积"))])
    has_reception_conditions = BooleanField(_l("具备少儿活动接待条件"))
    high_counter_count = _count(_l("高柜（现金柜）数"))
    low_counter_count = _count(_l("低柜（非现金柜）数"))
    corp_cash_tx_daily = _count(_l("日均对公现金业务笔数"))
    corp_noncash_tx_daily = _count(_l("日均对公非现金业务笔数"))
    teller_std_volume = _count(_l("柜员年日均标准业务量"))
    active = BooleanField(_l("营业中"), default=True)
    version = HiddenField()
